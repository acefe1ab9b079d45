/// The rules for worker labels (`--label`), which `compute:` names in pipelines map to.
public enum WorkerLabels {
    /// Checks each label: not empty, and free of whitespace and commas (a label is one word in
    /// `conduit workers` and in comma-separated lists).
    public static func validate(_ labels: [String]) throws(WorkerError) {
        for label in labels {
            if label.isEmpty {
                throw WorkerError(.invalidLabel, "--label: a label must not be empty")
            }
            if label.contains(where: { $0.isWhitespace || $0 == "," }) {
                throw WorkerError(
                    .invalidLabel,
                    "--label '\(label)': a label must not contain spaces or commas; pass one --label per label, e.g. --label gpu --label big-memory")
            }
        }
    }
}
