/// One GPU a worker offers.
public struct GPUDevice: Codable, Hashable, Sendable {
    /// The device's index as NVML and `nvidia-smi` number it (PCI bus order); attempts are given
    /// indices in `CUDA_VISIBLE_DEVICES` with `CUDA_DEVICE_ORDER=PCI_BUS_ID`.
    public var index: Int
    public var uuid: String
    /// The model name, e.g. `NVIDIA H100 80GB HBM3`.
    public var name: String
    public var memoryBytes: Int64
    /// Free memory when the worker detected it.
    public var freeMemoryBytes: Int64
    /// CUDA compute capability, e.g. `9.0`; empty when unknown.
    public var computeCapability: String
    /// Declared for testing (`--simulate-gpus`), not a real device.
    public var simulated: Bool

    public init(
        index: Int, uuid: String, name: String, memoryBytes: Int64, freeMemoryBytes: Int64, computeCapability: String = "",
        simulated: Bool = false
    ) {
        self.index = index
        self.uuid = uuid
        self.name = name
        self.memoryBytes = memoryBytes
        self.freeMemoryBytes = freeMemoryBytes
        self.computeCapability = computeCapability
        self.simulated = simulated
    }
}

/// A worker's resources and labels, sent at hello.
public struct WorkerCapabilities: Codable, Hashable, Sendable {
    /// Cores the worker may use (its cgroup's CPU limit when it has one).
    public var cores: Int
    /// Memory the worker may use (its cgroup's memory limit when it has one).
    public var memoryBytes: Int64
    /// How many attempts the worker runs at once.
    public var slots: Int
    /// Labels that `compute:` names map to.
    public var labels: [String]
    public var hostname: String
    /// Free space in the worker's work directory when it registered.
    public var diskFreeBytes: Int64
    /// The GPUs it offers (after `--gpus`), in index order.
    public var gpus: [GPUDevice]

    public init(
        cores: Int, memoryBytes: Int64, slots: Int, labels: [String], hostname: String, diskFreeBytes: Int64 = 0,
        gpus: [GPUDevice] = []
    ) {
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.slots = slots
        self.labels = labels
        self.hostname = hostname
        self.diskFreeBytes = diskFreeBytes
        self.gpus = gpus
    }
}

/// Worker → coordinator: the first message on a connection.
public struct Hello: Codable, Hashable, Sendable {
    /// The protocol version the worker speaks (also in the envelope).
    public var protocolVersion: UInt16
    public var workerName: String
    public var capabilities: WorkerCapabilities
    /// Attempts the worker is still running from an earlier connection.
    public var runningAttempts: [String]

    public init(protocolVersion: UInt16 = ProtocolVersion.current, workerName: String, capabilities: WorkerCapabilities, runningAttempts: [String] = []) {
        self.protocolVersion = protocolVersion
        self.workerName = workerName
        self.capabilities = capabilities
        self.runningAttempts = runningAttempts
    }
}

/// Coordinator → worker: registration accepted.
public struct Welcome: Codable, Hashable, Sendable {
    public var workerID: String
    /// How often each side sends a heartbeat.
    public var heartbeatIntervalMilliseconds: Int
    /// How long the worker's lease on an attempt lasts without renewal before it fences the
    /// attempt: shorter than the coordinator's loss timeout (0: keep the worker's own setting).
    public var leaseMilliseconds: Int

    public init(workerID: String, heartbeatIntervalMilliseconds: Int, leaseMilliseconds: Int = 0) {
        self.workerID = workerID
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.leaseMilliseconds = leaseMilliseconds
    }
}

/// Coordinator → worker: registration refused. The worker must not retry without a change,
/// unless `helloRequired` is true: then the coordinator merely does not know this connection
/// (it restarted, or forgot the worker) and the worker registers again.
public struct Refuse: Codable, Hashable, Sendable {
    public var reason: String
    /// True when the worker should send `hello` again rather than stop; absent means false.
    public var helloRequired: Bool?

    public init(reason: String, helloRequired: Bool? = nil) {
        self.reason = reason
        self.helloRequired = helloRequired
    }
}

/// Both ways: "still here", and the leases.
///
/// Worker → coordinator: the attempts the worker holds (running, waiting, or reported and not
/// yet acknowledged), which confirms them, and the heartbeat's own `sequence` number.
/// Coordinator → worker: the attempts the coordinator holds on that worker, which renews their
/// leases, and in `sequence` the latest worker heartbeat it had received. The worker counts the
/// renewed leases from when *it sent* that heartbeat, so a lease always ends on the worker before
/// the coordinator, which counts from when it received it, gives the attempt up.
public struct Heartbeat: Codable, Hashable, Sendable {
    public var runningAttempts: [String]
    public var sequence: UInt64
    public init(runningAttempts: [String] = [], sequence: UInt64 = 0) {
        self.runningAttempts = runningAttempts
        self.sequence = sequence
    }
}

/// Both ways: draining. From the coordinator: stop taking attempts, finish the running ones,
/// hand back those waiting, then leave. From the worker: it is doing so (it got SIGTERM).
public struct Drain: Codable, Hashable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}
