import Transport

/// How a worker runs. Every field has a documented default.
public struct WorkerConfiguration: Sendable {
    /// Shown in `conduit workers`; defaults to the host name.
    public var name: String
    /// Labels that `compute:` names map to; none means "takes any step".
    public var labels: [String]
    /// Attempts run at once; defaults to 1.
    public var slots: Int
    /// Where attempt directories and the local content cache live.
    public var workDirectory: String
    /// How often a heartbeat is sent; default 1 s.
    public var heartbeatInterval: Duration
    /// Silence from the coordinator after which the worker registers again; default 10 s.
    public var coordinatorSilenceTimeout: Duration
    /// Bytes per upload chunk; default 2 MiB (see docs/data-plane.md).
    public var chunkBytes: Int
    /// Fetch chunks requested at a time; default 8.
    public var fetchCredit: Int
    /// Grace between SIGTERM and SIGKILL when a step is stopped; default 2 s.
    public var killGracePeriod: Duration
    /// Keep attempt directories after the attempt ends (for debugging); default false.
    public var keepAttemptDirectories: Bool
    /// How long a step's process runs before the worker reports it started; default 20 ms. A step
    /// that ends sooner is reported only as finished, which saves a message per short step.
    public var startedReportDelay: Duration
    /// An attempt whose lease the coordinator has not renewed for this long is fenced: its
    /// process group is killed at once and its outputs are discarded. Default 8 s, shorter than
    /// the coordinator's 10 s loss timeout, so the old attempt is dead before a new one starts.
    public var leaseTimeout: Duration
    /// How long a draining worker (SIGTERM, `conduit worker drain`) lets running attempts finish
    /// before it stops them and hands them back; default 60 s.
    public var drainTimeout: Duration
    /// How often what a running step tracks (metrics, params, tags) is read and sent; default 1 s.
    public var trackingInterval: Duration = .seconds(1)
    /// The clocks; default the machine's.
    public var clock: ServiceClock
    /// What the worker offers (from `CapabilityDetector.detect`): cores, memory, GPUs. Default
    /// nil: cores and memory are read when the worker registers, and it offers no GPUs. Free
    /// disk in `workDirectory` is always read when it registers.
    public var resources: MachineResources?
    /// The most bytes the local content cache (`WORKDIR/cache`: blobs and input checkouts) may
    /// hold; the least recently used entries not in use are deleted to stay under it. Nil (the
    /// default) means 25% of the size of the file system holding the work directory, at most
    /// 20 GiB (``WorkerConfiguration/defaultCacheLimit(fileSystemBytes:)``), measured at start.
    public var cacheLimitBytes: Int64?

    public init(
        name: String, labels: [String] = [], slots: Int = 1, workDirectory: String,
        heartbeatInterval: Duration = .seconds(1), coordinatorSilenceTimeout: Duration = .seconds(10),
        chunkBytes: Int = 2 << 20, fetchCredit: Int = 8, killGracePeriod: Duration = .seconds(2),
        keepAttemptDirectories: Bool = false, startedReportDelay: Duration = .milliseconds(20),
        leaseTimeout: Duration = .seconds(8), drainTimeout: Duration = .seconds(60), clock: ServiceClock = .system,
        resources: MachineResources? = nil, cacheLimitBytes: Int64? = nil
    ) {
        precondition((cacheLimitBytes ?? 0) >= 0, "WorkerConfiguration: cacheLimitBytes must not be negative")
        self.resources = resources
        self.cacheLimitBytes = cacheLimitBytes
        self.leaseTimeout = leaseTimeout
        self.drainTimeout = drainTimeout
        self.clock = clock
        precondition(slots > 0, "WorkerConfiguration: slots must be at least 1")
        precondition(chunkBytes > 0 && fetchCredit > 0, "WorkerConfiguration: chunk sizes must be positive")
        self.name = name
        self.labels = labels
        self.slots = slots
        self.workDirectory = workDirectory
        self.heartbeatInterval = heartbeatInterval
        self.coordinatorSilenceTimeout = coordinatorSilenceTimeout
        self.chunkBytes = chunkBytes
        self.fetchCredit = fetchCredit
        self.killGracePeriod = killGracePeriod
        self.keepAttemptDirectories = keepAttemptDirectories
        self.startedReportDelay = startedReportDelay
    }
}

extension WorkerConfiguration {
    /// The cache limit used when none is configured: a quarter of the work directory's file
    /// system, but never more than 20 GiB (a shared disk is not the cache's alone).
    public static func defaultCacheLimit(fileSystemBytes: Int64) -> Int64 {
        min(fileSystemBytes / 4, 20 << 30)
    }
}

/// Why a worker stopped or could not do something.
public struct WorkerError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The coordinator refused the registration.
        public static let refused = Code(rawValue: "refused")
        /// A blob could not be fetched or uploaded.
        public static let transfer = Code(rawValue: "transfer")
        /// The attempt directory could not be prepared.
        public static let workspace = Code(rawValue: "workspace")
        /// The worker is shutting down.
        public static let shutdown = Code(rawValue: "shutdown")
        /// The attempt's lease ran out: it was fenced.
        public static let fenced = Code(rawValue: "fenced")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
