/// Types of the coordinator's HTTP/JSON API, shared by the server and the CLI.
///
/// Every route lives under `/v1`. See `docs/protocol.md` for the route table.
public enum ClientAPI {}

/// Lifecycle of a run.
public enum RunStatus: String, Codable, Hashable, Sendable, CaseIterable {
    case queued
    case running
    case completed
    case failed
    case canceled

    /// Whether the run has ended.
    public var isFinal: Bool { self == .completed || self == .failed || self == .canceled }
}

/// Lifecycle of a step within a run.
public enum StepStatus: String, Codable, Hashable, Sendable, CaseIterable {
    /// Waiting for upstream outputs.
    case waiting
    /// Inputs ready, waiting for a worker slot.
    case queued
    /// An attempt is running.
    case running
    case completed
    case failed
    /// Killed at its timeout.
    case timedOut = "timed_out"
    case canceled
    /// Not run because an input it needs was never produced.
    case skipped

    /// Whether the step has ended.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed, .timedOut, .canceled, .skipped: true
        case .waiting, .queued, .running: false
        }
    }
}

/// A blob list question: which of these does the coordinator lack?
public struct MissingBlobsRequest: Codable, Sendable {
    public var digests: [String]
    public init(digests: [String]) { self.digests = digests }
}

/// The answer to `MissingBlobsRequest`.
public struct MissingBlobsResponse: Codable, Sendable {
    public var missing: [String]
    public init(missing: [String]) { self.missing = missing }
}

/// A pipeline submission. The client has already uploaded every blob that `artifacts` names.
public struct SubmitRequest: Codable, Sendable {
    /// The loaded plan, JSON-encoded (`Spec.PipelinePlan`); kept opaque here so that Protocol
    /// depends on nothing but Foundation.
    public var planJSON: String
    /// Artifact digests of local data inputs, keyed by `"STEP\u{1F}INPUT"`.
    public var localInputs: [String: String]
    /// Artifact digests of code snapshots, keyed by step name.
    public var code: [String: String]
    /// Steps that must run even when a cached result exists.
    public var force: [String]

    public init(planJSON: String, localInputs: [String: String], code: [String: String], force: [String]) {
        self.planJSON = planJSON
        self.localInputs = localInputs
        self.code = code
        self.force = force
    }
}

/// The answer to a submission.
public struct SubmitResponse: Codable, Sendable {
    public var run: String
    public init(run: String) { self.run = run }
}

/// One step in a run report; the `--json` output uses exactly these names.
public struct StepReport: Codable, Hashable, Sendable {
    public var name: String
    public var status: StepStatus
    public var reused: Bool
    public var attempts: Int
    public var worker: String?
    /// Why the step failed, was canceled or skipped.
    public var reason: String?
    /// Wall-clock seconds of the last attempt.
    public var seconds: Double?
    /// The GPUs leased to the last attempt on its worker (its `CUDA_VISIBLE_DEVICES`).
    public var gpus: [Int]?
    /// True when those GPUs are simulated (`--simulate-gpus`), not real devices.
    public var gpusSimulated: Bool?
    /// Milliseconds since 1970: when its first attempt in this run was dispatched; nil for a step
    /// that never started (and for a reused one, which ran in `sourceRun`).
    public var startedAt: Int64?
    /// Milliseconds since 1970: when it ended (completed, failed, was reused, canceled, skipped).
    public var finishedAt: Int64?
    /// Seconds from `startedAt` to `finishedAt`: every attempt, and the waits between them.
    public var durationSeconds: Double?
    /// The last value of each metric it recorded, by name; for a reused step, those of the run it
    /// reused. Nil when it recorded none.
    public var metrics: [String: Double]?
    /// For a reused step: the run whose outputs (and attempts, logs, metrics) it reused.
    public var sourceRun: String?
    /// Output name → artifact digest, once it completed (ran or reused); `conduit download RUN
    /// STEP.OUTPUT DIR` fetches one.
    public var outputs: [String: String]?
    /// Every attempt in this run, oldest first (retries included); nil for a step never dispatched.
    public var attemptHistory: [AttemptReport]?
    /// What became of its outputs with `name:`: `model → azureml:model:3`, or why one was not
    /// registered. Nil when it registers none (or has not completed).
    public var registered: [String]?
    /// For a trial of a sweep: the search-space values it runs with (input → value); nil for a
    /// bayesian trial whose point is not chosen yet, and for other steps.
    public var point: [String: String]?

    public init(
        name: String, status: StepStatus, reused: Bool, attempts: Int, worker: String?, reason: String? = nil, seconds: Double? = nil,
        gpus: [Int]? = nil
    ) {
        self.gpus = gpus
        self.name = name
        self.status = status
        self.reused = reused
        self.attempts = attempts
        self.worker = worker
        self.reason = reason
        self.seconds = seconds
    }
}

/// A run's state: what `status --json` prints.
public struct RunReport: Codable, Hashable, Sendable {
    public var run: String
    public var pipeline: String
    public var status: RunStatus
    public var steps: [StepReport]
    /// Pipeline output name → artifact digest, for produced outputs. The CLI replaces digests
    /// by local paths once it has downloaded them.
    public var outputs: [String: String]
    public var createdAt: Int64
    public var finishedAt: Int64?
    /// Why the run failed.
    public var reason: String?
    /// Increases with every change; lets clients wait for the next one.
    public var version: Int64

    public init(run: String, pipeline: String, status: RunStatus, steps: [StepReport], outputs: [String: String], createdAt: Int64, finishedAt: Int64?, reason: String?, version: Int64) {
        self.run = run
        self.pipeline = pipeline
        self.status = status
        self.steps = steps
        self.outputs = outputs
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.reason = reason
        self.version = version
    }
}

/// A connected (or recently seen) worker.
public struct WorkerReport: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var capabilities: WorkerCapabilities
    public var connected: Bool
    public var runningAttempts: [String]
    public var lastSeen: Int64
    /// What its attempts hold, while it is connected.
    public var usage: WorkerUsage?

    public init(
        id: String, name: String, capabilities: WorkerCapabilities, connected: Bool, runningAttempts: [String], lastSeen: Int64,
        usage: WorkerUsage? = nil
    ) {
        self.usage = usage
        self.id = id
        self.name = name
        self.capabilities = capabilities
        self.connected = connected
        self.runningAttempts = runningAttempts
        self.lastSeen = lastSeen
    }
}

/// What a connected worker's attempts hold, as the coordinator placed them.
public struct WorkerUsage: Codable, Hashable, Sendable {
    /// Cores given to attempts, in thousandths, of `cpuCapacityMillicores`.
    public var cpuMillicores: Int
    public var cpuCapacityMillicores: Int
    public var memoryBytes: Int64
    /// Attempts placed on it (running or waiting there) and its slots.
    public var attempts: Int
    public var slots: Int
    /// GPU index → the attempt it is leased to.
    public var leasedGPUs: [Int: String]
    public var draining: Bool

    public init(cpuMillicores: Int, cpuCapacityMillicores: Int, memoryBytes: Int64, attempts: Int, slots: Int, leasedGPUs: [Int: String], draining: Bool) {
        self.cpuMillicores = cpuMillicores
        self.cpuCapacityMillicores = cpuCapacityMillicores
        self.memoryBytes = memoryBytes
        self.attempts = attempts
        self.slots = slots
        self.leasedGPUs = leasedGPUs
        self.draining = draining
    }
}

/// Why a step ran or was reused: what `conduit explain` prints.
public struct Explanation: Codable, Hashable, Sendable {
    public var run: String
    public var step: String
    /// `reused`, `ran`, `not run`.
    public var decision: String
    /// One sentence: the reason for the decision.
    public var summary: String
    /// For a miss: each manifest field that differs from the nearest earlier execution.
    public var differences: [String]
    /// The run whose execution was reused, or compared against.
    public var comparedRun: String?
    public var cacheKey: String?

    public init(run: String, step: String, decision: String, summary: String, differences: [String], comparedRun: String?, cacheKey: String?) {
        self.run = run
        self.step = step
        self.decision = decision
        self.summary = summary
        self.differences = differences
        self.comparedRun = comparedRun
        self.cacheKey = cacheKey
    }
}

/// A pipeline output's artifact: its manifest digest and kind, for `conduit download`.
public struct OutputArtifact: Codable, Hashable, Sendable {
    public var name: String
    public var artifact: String
    public var kind: ArtifactKind

    public init(name: String, artifact: String, kind: ArtifactKind) {
        self.name = name
        self.artifact = artifact
        self.kind = kind
    }
}

/// An error body: every non-2xx answer carries one.
public struct APIError: Codable, Error, Hashable, Sendable, CustomStringConvertible {
    public var error: String
    public init(error: String) { self.error = error }
    public var description: String { error }
}

/// A worker public key on the coordinator's allow-list (`GET /v1/worker-keys`).
public struct WorkerKeyReport: Codable, Hashable, Sendable {
    /// The CURVE public key, 40 characters of Z85.
    public var publicKey: String
    /// Who the key belongs to, as given when it was allowed.
    public var name: String
    /// Milliseconds since 1970.
    public var addedAt: Int64
    /// When the key was revoked (milliseconds since 1970); absent while it is allowed.
    public var revokedAt: Int64?
    /// Ids of the connected workers that authenticated with this key.
    public var workers: [String]

    public init(publicKey: String, name: String, addedAt: Int64, revokedAt: Int64?, workers: [String]) {
        self.publicKey = publicKey
        self.name = name
        self.addedAt = addedAt
        self.revokedAt = revokedAt
        self.workers = workers
    }
}

/// `POST /v1/worker-keys`: allow a worker public key.
public struct AllowWorkerKeyRequest: Codable, Hashable, Sendable {
    /// The CURVE public key, 40 characters of Z85.
    public var key: String
    /// Who the key belongs to (shown in lists; used by `conduit workers revoke NAME`).
    public var name: String

    public init(key: String, name: String) {
        self.key = key
        self.name = name
    }
}
