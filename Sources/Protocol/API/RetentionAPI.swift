/// What `conduit runs prune` asks of the coordinator (`POST /v1/runs/prune`).
public struct PruneRequest: Codable, Hashable, Sendable {
    /// Milliseconds since 1970: runs that ended before this go (never a run still going). Blobs
    /// stored at or after it are kept whatever refers to them (an upload may be on its way to a
    /// submission).
    public var endedBefore: Int64
    /// Keeps the newest `keepLast` ended runs of each pipeline, however old; nil keeps none.
    public var keepLast: Int?
    /// Says what would be freed and deletes nothing.
    public var dryRun: Bool
    /// Artifact digests that must stay with their blobs whatever the runs say: the data assets of
    /// the client's local registry.
    public var keep: [String]

    public init(endedBefore: Int64, keepLast: Int? = nil, dryRun: Bool = false, keep: [String] = []) {
        self.endedBefore = endedBefore
        self.keepLast = keepLast
        self.dryRun = dryRun
        self.keep = keep
    }
}

/// What a prune freed (or, for a dry run, would free); `conduit runs prune --json` prints it.
public struct PruneReport: Codable, Hashable, Sendable {
    /// Whether nothing was deleted (a dry run).
    public var dryRun: Bool
    /// The cutoff the prune used, milliseconds since 1970.
    public var endedBefore: Int64
    /// The runs deleted, oldest first.
    public var runs: [String]
    /// Their attempts (each with its log, metric history, params and tags).
    public var attempts: Int
    /// Bytes of the attempts' log files.
    public var logBytes: Int64
    /// Metric values recorded by those attempts.
    public var metricPoints: Int
    /// Cache entries dropped because the blobs they name went too; a later submission runs the
    /// step again (a miss, never a failure).
    public var cacheEntries: Int
    /// Cache entries of deleted runs that stay, because every blob they name stays.
    public var cacheEntriesKept: Int
    /// Blob files deleted from the artifact store, and their bytes.
    public var blobs: Int
    public var blobBytes: Int64

    public init(
        dryRun: Bool, endedBefore: Int64, runs: [String] = [], attempts: Int = 0, logBytes: Int64 = 0, metricPoints: Int = 0,
        cacheEntries: Int = 0, cacheEntriesKept: Int = 0, blobs: Int = 0, blobBytes: Int64 = 0
    ) {
        self.dryRun = dryRun
        self.endedBefore = endedBefore
        self.runs = runs
        self.attempts = attempts
        self.logBytes = logBytes
        self.metricPoints = metricPoints
        self.cacheEntries = cacheEntries
        self.cacheEntriesKept = cacheEntriesKept
        self.blobs = blobs
        self.blobBytes = blobBytes
    }
}
