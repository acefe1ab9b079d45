/// Writes collected while handling one event, applied in one transaction by `ConduitStore.write(_:)`.
///
/// The coordinator fills a batch as it handles an event and writes it before sending any message
/// that depends on it, so every acknowledged transition is durable first, at the cost of one
/// fsync per event rather than one per change.
public struct StoreBatch: Sendable {
    public private(set) var runs: [String: RunRecord] = [:]
    public private(set) var steps: [String: StepRecord] = [:]
    public private(set) var attempts: [String: AttemptRecord] = [:]
    public private(set) var artifacts: [ArtifactRecord] = []
    public private(set) var cacheEntries: [CacheEntryRecord] = []
    public private(set) var events: [EventRecord] = []
    /// Whether the batch holds a change that something depends on (anything but progress notes).
    public private(set) var isUrgent = false

    public init() {}

    public var isEmpty: Bool {
        runs.isEmpty && steps.isEmpty && attempts.isEmpty && artifacts.isEmpty && cacheEntries.isEmpty && events.isEmpty
    }

    /// A run row to update (the latest version wins).
    public mutating func update(_ run: RunRecord) {
        runs[run.id] = run
        isUrgent = true
    }

    /// A step row to update (the latest version wins).
    public mutating func update(_ step: StepRecord) {
        steps[step.runID + "\u{1F}" + step.name] = step
        isUrgent = true
    }

    /// An attempt row to insert or update. `urgent: false` for progress that nothing waits on
    /// (an attempt started), which may ride along with the next urgent write.
    public mutating func save(_ attempt: AttemptRecord, urgent: Bool = true) {
        attempts[attempt.id] = attempt
        if urgent { isUrgent = true }
    }

    /// A produced artifact (ignored if already recorded).
    public mutating func insert(_ artifact: ArtifactRecord) {
        artifacts.append(artifact)
        isUrgent = true
    }

    /// A cache entry to insert or replace.
    public mutating func save(_ entry: CacheEntryRecord) {
        cacheEntries.append(entry)
        isUrgent = true
    }

    /// An event to append.
    public mutating func append(_ event: EventRecord) {
        events.append(event)
    }
}
