/// How a coordinator runs. Every field has a documented default.
public struct CoordinatorConfiguration: Sendable {
    /// Where the database, artifact store and logs live.
    public var dataDirectory: String
    /// How often heartbeats are sent to workers; default 1 s.
    public var heartbeatInterval: Duration
    /// A worker silent for this long is considered lost; default 10 s.
    public var workerLossTimeout: Duration
    /// Bytes per transfer chunk; default 512 KiB.
    public var chunkBytes: Int
    /// Chunks a peer may send or receive before waiting for more credit; default 8.
    public var creditChunks: Int
    /// Attempts of a step lost to infrastructure (worker gone, worker error) before it fails; default 3.
    public var maximumInfrastructureAttempts: Int
    /// Attempts sent to a worker beyond its slots while its steps are short (under a second);
    /// they wait on the worker, so a slot that frees up starts the next attempt at once instead
    /// of idling for a round trip. Used only when no eligible worker has a free slot. Default 1.
    public var dispatchAhead: Int

    public init(
        dataDirectory: String, heartbeatInterval: Duration = .seconds(1), workerLossTimeout: Duration = .seconds(10),
        chunkBytes: Int = 512 * 1024, creditChunks: Int = 8, maximumInfrastructureAttempts: Int = 3, dispatchAhead: Int = 1
    ) {
        precondition(chunkBytes > 0 && creditChunks > 0 && maximumInfrastructureAttempts > 0, "CoordinatorConfiguration: sizes must be positive")
        precondition(dispatchAhead >= 0, "CoordinatorConfiguration: dispatchAhead must not be negative")
        self.dispatchAhead = dispatchAhead
        self.dataDirectory = dataDirectory
        self.heartbeatInterval = heartbeatInterval
        self.workerLossTimeout = workerLossTimeout
        self.chunkBytes = chunkBytes
        self.creditChunks = creditChunks
        self.maximumInfrastructureAttempts = maximumInfrastructureAttempts
    }
}
