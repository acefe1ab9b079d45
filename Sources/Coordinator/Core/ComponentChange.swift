/// How the registered component a step runs changed between two executions, for `conduit explain`.
///
/// Registered versions are kept out of the cache key (a new version with identical content still
/// reuses, as Azure ML does), so explain reports them beside the manifest's differences.
public enum ComponentChange {
    /// `component: azureml:train:1 → azureml:train:2`, or nil when both ran the same component
    /// (`nil` stands for a component file or an inline job).
    public static func describe(earlier: String?, current: String?) -> String? {
        guard earlier != current else { return nil }
        return "component: \(earlier ?? "a component file") → \(current ?? "a component file")"
    }
}
