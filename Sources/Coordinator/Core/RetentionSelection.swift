import Protocol

/// Which runs `conduit runs prune` deletes: a pure decision over the runs' summaries.
///
/// A run goes when it has ended (completed, failed or canceled) before the cutoff, unless it is
/// one of the newest `keepLast` ended runs of its pipeline. A run still queued or running never goes.
public struct RetentionSelection: Sendable {
    /// What the decision needs to know of a run.
    public struct Run: Hashable, Sendable {
        public var id: String
        public var pipeline: String
        public var status: RunStatus
        /// Milliseconds since 1970.
        public var createdAt: Int64
        /// Milliseconds since 1970; a run recorded as ended without one counts from `createdAt`.
        public var finishedAt: Int64?

        public init(id: String, pipeline: String, status: RunStatus, createdAt: Int64, finishedAt: Int64?) {
            self.id = id
            self.pipeline = pipeline
            self.status = status
            self.createdAt = createdAt
            self.finishedAt = finishedAt
        }

        /// When the run ended, for the cutoff.
        var endedAt: Int64 { finishedAt ?? createdAt }
    }

    /// Runs that ended before this (milliseconds since 1970) may go.
    public let endedBefore: Int64
    /// How many of each pipeline's newest ended runs stay; 0 keeps none.
    public let keepLast: Int

    /// - Precondition: `keepLast` is not negative (the CLI and the API refuse it first).
    public init(endedBefore: Int64, keepLast: Int = 0) {
        precondition(keepLast >= 0, "RetentionSelection: keepLast must not be negative, got \(keepLast)")
        self.endedBefore = endedBefore
        self.keepLast = keepLast
    }

    /// The ids of the runs to delete, oldest ended first.
    public func runsToPrune(_ runs: [Run]) -> [String] {
        let ended = runs.filter(\.status.isFinal)
        var kept = Set<String>()
        if keepLast > 0 {
            for (_, group) in Dictionary(grouping: ended, by: \.pipeline) {
                let newest = group.sorted { ($0.endedAt, $0.createdAt, $0.id) > ($1.endedAt, $1.createdAt, $1.id) }
                kept.formUnion(newest.prefix(keepLast).map(\.id))
            }
        }
        return ended
            .filter { $0.endedAt < endedBefore && !kept.contains($0.id) }
            .sorted { ($0.endedAt, $0.id) < ($1.endedAt, $1.id) }
            .map(\.id)
    }
}
