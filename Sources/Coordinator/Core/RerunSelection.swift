import Spec

/// Which steps `conduit rerun --from STEP` forces to run: the step and every step that reads,
/// directly or through others, one of its outputs.
public enum RerunSelection {
    /// `from` and its transitive downstream steps, in plan order; nil when the plan has no step `from`.
    public static func forced(from: String, in plan: PipelinePlan) -> [String]? {
        guard plan.steps.contains(where: { $0.name == from }) else { return nil }
        var selected: Set<String> = [from]
        // Plan order is topological: one pass sees every producer before its readers.
        for step in plan.steps where !selected.contains(step.name) {
            if step.upstreamSteps.contains(where: selected.contains) { selected.insert(step.name) }
        }
        return plan.steps.map(\.name).filter(selected.contains)
    }
}
