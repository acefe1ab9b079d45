/// Writes collected while handling one event, applied in one transaction by `ConduitStore.write(_:)`.
///
/// The coordinator fills a batch as it handles an event and writes it before sending any message
/// that depends on it, so every acknowledged transition is durable first, at the cost of one
/// fsync per event rather than one per change.
public struct StoreBatch: Sendable {
    /// Runs created by this batch, with their steps in plan order, written in their latest state.
    public private(set) var newRuns: [String: (run: RunRecord, steps: [StepRecord])] = [:]
    private var newRunOrder: [String] = []
    public private(set) var runs: [String: RunRecord] = [:]
    public private(set) var steps: [String: StepRecord] = [:]
    public private(set) var attempts: [String: AttemptRecord] = [:]
    public private(set) var artifacts: [ArtifactRecord] = []
    public private(set) var cacheEntries: [CacheEntryRecord] = []
    public private(set) var events: [EventRecord] = []
    /// Metric values, params and tags steps tracked (progress: never urgent).
    public private(set) var metricPoints: [MetricPointRecord] = []
    public private(set) var trackedValues: [TrackedValueRecord] = []
    /// Data assets runs registered.
    public private(set) var outputAssets: [OutputAssetRecord] = []
    /// Whether the batch holds a change that something depends on (anything but progress notes).
    public private(set) var isUrgent = false

    public init() {}

    public var isEmpty: Bool {
        newRuns.isEmpty && runs.isEmpty && steps.isEmpty && attempts.isEmpty && artifacts.isEmpty && cacheEntries.isEmpty && events.isEmpty
            && metricPoints.isEmpty && trackedValues.isEmpty && outputAssets.isEmpty
    }

    /// A new run and its steps to insert; `steps` must be in plan order (`position` 0, 1, ...).
    public mutating func insert(_ run: RunRecord, steps: [StepRecord]) {
        newRuns[run.id] = (run, steps)
        newRunOrder.append(run.id)
        events.append(EventRecord(runID: run.id, step: nil, kind: "submitted", detail: run.pipeline, at: run.createdAt))
        isUrgent = true
    }

    /// What a step tracked: metric values (each recorded once per attempt and point number), and
    /// params and tags (the latest value wins). Progress: rides along with the next urgent write.
    public mutating func track(points: [MetricPointRecord], values: [TrackedValueRecord]) {
        metricPoints += points
        trackedValues += values
    }

    /// The ids of the new runs in the order they were added.
    public var newRunIDs: [String] { newRunOrder }

    /// A run row to update (the latest version wins).
    public mutating func update(_ run: RunRecord) {
        if newRuns[run.id] != nil {
            newRuns[run.id]!.run = run
        } else {
            runs[run.id] = run
        }
        isUrgent = true
    }

    /// A step row to update (the latest version wins); a step of a new run is inserted in this state.
    /// `urgent: false` for progress nothing waits on (a step started).
    public mutating func update(_ step: StepRecord, urgent: Bool = true) {
        // A new run's steps are in plan order, so a step's position is its index.
        if let run = newRuns[step.runID], run.steps.indices.contains(step.position), run.steps[step.position].name == step.name {
            newRuns[step.runID]!.steps[step.position] = step
        } else {
            steps[step.runID + "\u{1F}" + step.name] = step
        }
        if urgent { isUrgent = true }
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

    /// A data asset a step's output was registered as.
    public mutating func insert(_ asset: OutputAssetRecord) {
        outputAssets.append(asset)
        isUrgent = true
    }

    /// An event to append.
    public mutating func append(_ event: EventRecord) {
        events.append(event)
    }
}
