import CoreMetrics
import Foundation
import Transport

/// How a coordinator runs. Every field has a documented default.
public struct CoordinatorConfiguration: Sendable {
    /// Where the database, artifact store and logs live.
    public var dataDirectory: String
    /// How often heartbeats are sent to workers (each renews the leases of the attempts it names);
    /// default 1 s.
    public var heartbeatInterval: Duration
    /// A worker silent for this long is considered lost, and an attempt its worker has not
    /// confirmed for this long (by heartbeat or report) is given up and queued again; after a
    /// restart, the grace period in which workers re-attach their running attempts. Default 10 s,
    /// longer than the worker's 8 s self-fencing lease, so the old attempt is dead first.
    public var workerLossTimeout: Duration
    /// Bytes per transfer chunk; default 2 MiB (see docs/data-plane.md).
    public var chunkBytes: Int
    /// Chunks a peer may send or receive before waiting for more credit; default 8.
    public var creditChunks: Int
    /// What happens after a failed attempt: retries, quarantine. Default `FailurePolicy()`
    /// (3 worker errors fail a step, 3 lost workers quarantine it).
    public var failurePolicy: FailurePolicy
    /// Attempts sent to a worker beyond its slots while its steps are short (under a second);
    /// they wait on the worker, so a slot that frees up starts the next attempt at once instead
    /// of idling for a round trip. Used only when no eligible worker has a free slot. Default 1.
    public var dispatchAhead: Int
    /// Below this many free bytes under the data directory, dispatching pauses (and uploads wait)
    /// until space returns; default 256 MiB.
    public var minimumFreeBytes: Int64
    /// Free bytes of the file system holding a path, or nil when unknown; default `statvfs`.
    public var freeSpace: @Sendable (String) -> Int64?
    /// The clocks; default the machine's.
    public var clock: ServiceClock
    /// How `compute:` and `resources:` become worker requirements (the `--config` file);
    /// default: a compute name is its label, instance types are Conduit's built-in list.
    public var placement: PlacementPolicy
    /// Datastore names → directories (`azureml://datastores/NAME/paths/...`); nil: only
    /// `workspaceblobstore`, under the data directory, which is also the default.
    public var datastores: Datastores?
    /// Where the coordinator's counters and histograms go (a Prometheus registry's factory, say); nil,
    /// the default: nowhere. Passed here rather than through `MetricsSystem.bootstrap`, which a process
    /// may call only once, so that each coordinator of a process keeps its own.
    public var metricsFactory: (any MetricsFactory)?

    /// The datastores in effect.
    public var effectiveDatastores: Datastores {
        datastores ?? .standard(dataDirectory: dataDirectory)
    }

    public init(
        dataDirectory: String, heartbeatInterval: Duration = .seconds(1), workerLossTimeout: Duration = .seconds(10),
        chunkBytes: Int = 2 << 20, creditChunks: Int = 8, failurePolicy: FailurePolicy = FailurePolicy(), dispatchAhead: Int = 1,
        minimumFreeBytes: Int64 = 256 << 20, freeSpace: @escaping @Sendable (String) -> Int64? = CoordinatorConfiguration.statvfsFreeSpace,
        clock: ServiceClock = .system, placement: PlacementPolicy = PlacementPolicy(), datastores: Datastores? = nil,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.metricsFactory = metricsFactory
        self.placement = placement
        self.datastores = datastores
        precondition(chunkBytes > 0 && creditChunks > 0, "CoordinatorConfiguration: sizes must be positive")
        precondition(dispatchAhead >= 0, "CoordinatorConfiguration: dispatchAhead must not be negative")
        self.dispatchAhead = dispatchAhead
        self.dataDirectory = dataDirectory
        self.heartbeatInterval = heartbeatInterval
        self.workerLossTimeout = workerLossTimeout
        self.chunkBytes = chunkBytes
        self.creditChunks = creditChunks
        self.failurePolicy = failurePolicy
        self.minimumFreeBytes = minimumFreeBytes
        self.freeSpace = freeSpace
        self.clock = clock
    }

    /// `workerLossTimeout` in milliseconds.
    var lossTimeoutMilliseconds: Int64 {
        workerLossTimeout.components.seconds * 1000 + workerLossTimeout.components.attoseconds / 1_000_000_000_000_000
    }

    /// Free bytes available to an unprivileged writer on the file system holding `path`.
    public static let statvfsFreeSpace: @Sendable (String) -> Int64? = { path in
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }
}
