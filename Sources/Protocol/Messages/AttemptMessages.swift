/// One piece of a step's command, as the coordinator sends it.
public enum CommandPiece: Codable, Hashable, Sendable {
    /// Author text.
    case text(String)
    /// A literal parameter value.
    case value(String)
    /// The local path of the named input.
    case inputPath(String)
    /// The local path of the named output.
    case outputPath(String)
}

/// Whether an artifact is one file or a folder.
public enum ArtifactKind: String, Codable, Hashable, Sendable {
    case file
    case folder
}

/// A data input of a dispatched attempt.
public struct DispatchInput: Codable, Hashable, Sendable {
    public var name: String
    public var kind: ArtifactKind
    /// Digest of the artifact's tree manifest (which is itself a blob), when the input is an artifact.
    public var artifact: String?
    /// A URI passed through as text, when the input is not an artifact.
    public var uri: String?

    public init(name: String, kind: ArtifactKind, artifact: String? = nil, uri: String? = nil) {
        self.name = name
        self.kind = kind
        self.artifact = artifact
        self.uri = uri
    }
}

/// An output the attempt must produce.
public struct DispatchOutput: Codable, Hashable, Sendable {
    public var name: String
    public var kind: ArtifactKind
    /// The step's default artifacts: instead of a path for the command to write, the worker
    /// collects the `outputs/` and `logs/` folders the command left in its working directory into
    /// one folder (either missing: an empty folder there). Always a folder.
    public var isDefaultArtifacts: Bool

    public init(name: String, kind: ArtifactKind, isDefaultArtifacts: Bool = false) {
        self.name = name
        self.kind = kind
        self.isDefaultArtifacts = isDefaultArtifacts
    }
}

/// Coordinator → worker: run one attempt of a step.
public struct Dispatch: Codable, Hashable, Sendable {
    /// Unique attempt id; every later message about the attempt carries it.
    public var attemptID: String
    public var runID: String
    public var step: String
    public var command: [CommandPiece]
    /// Extra environment variables for the process.
    public var environment: [String: String]
    /// The code snapshot (tree manifest digest) to run in, if any.
    public var code: String?
    public var inputs: [DispatchInput]
    public var outputs: [DispatchOutput]
    public var timeoutSeconds: Int?
    /// The latest worker heartbeat sequence the coordinator had received when it dispatched:
    /// the worker's lease on the attempt counts from when it sent that heartbeat (see `Heartbeat`).
    public var leaseSequence: UInt64
    /// The GPUs (indices from the worker's `WorkerCapabilities.gpus`) leased to this attempt alone.
    /// The worker shows exactly these to the process (`CUDA_VISIBLE_DEVICES`,
    /// `NVIDIA_VISIBLE_DEVICES`); an attempt with none sees no GPU.
    public var gpuDevices: [Int]
    /// The Python environment to run in, or nil to run with the worker's own `PATH`.
    public var environmentSetup: DispatchEnvironment?

    public init(
        attemptID: String, runID: String, step: String, command: [CommandPiece], environment: [String: String] = [:],
        code: String? = nil, inputs: [DispatchInput] = [], outputs: [DispatchOutput] = [], timeoutSeconds: Int? = nil,
        leaseSequence: UInt64 = 0, gpuDevices: [Int] = [], environmentSetup: DispatchEnvironment? = nil
    ) {
        self.environmentSetup = environmentSetup
        self.leaseSequence = leaseSequence
        self.gpuDevices = gpuDevices
        self.attemptID = attemptID
        self.runID = runID
        self.step = step
        self.command = command
        self.environment = environment
        self.code = code
        self.inputs = inputs
        self.outputs = outputs
        self.timeoutSeconds = timeoutSeconds
    }
}

/// Coordinator → worker: stop an attempt and kill its process group.
public struct Cancel: Codable, Hashable, Sendable {
    public var attemptID: String
    public var reason: String

    public init(attemptID: String, reason: String) {
        self.attemptID = attemptID
        self.reason = reason
    }
}

/// Worker → coordinator: the attempt's process is running.
public struct AttemptStarted: Codable, Hashable, Sendable {
    public var attemptID: String
    public init(attemptID: String) { self.attemptID = attemptID }
}

/// How an attempt ended, as the worker saw it.
public enum AttemptOutcome: String, Codable, Hashable, Sendable {
    /// Exit status 0 and every output uploaded.
    case succeeded
    /// Non-zero exit status or killed by a signal it did not get from us.
    case failed
    /// Killed at its `limits.timeout`.
    case timedOut = "timed_out"
    /// Killed because the coordinator canceled it.
    case canceled
    /// The worker could not run it (inputs unavailable, disk full, spawn failed).
    case workerError = "worker_error"
    /// Not run, or stopped, because the worker is draining (SIGTERM or `conduit worker drain`):
    /// the coordinator queues it again without counting a failure.
    case handedBack = "handed_back"
    /// Killed by the worker itself because its lease was not renewed (self-fencing); its outputs
    /// were discarded.
    case fenced
}

/// Worker → coordinator: the attempt ended. Sent only after every output blob is stored.
public struct AttemptFinished: Codable, Hashable, Sendable {
    public var attemptID: String
    public var outcome: AttemptOutcome
    public var exitCode: Int32?
    public var signal: Int32?
    /// Output name → artifact digest (tree manifest blob).
    public var outputs: [String: String]
    /// Milliseconds since 1970.
    public var startedAt: Int64
    public var endedAt: Int64
    /// A human explanation for anything but success.
    public var message: String?
    /// The artifact digest (tree manifest blob) of the step's MLflow store (`mlruns`: its runs'
    /// artifacts and logged models), stored like an output, when a succeeded step logged with MLflow.
    public var tracking: String?

    public init(
        attemptID: String, outcome: AttemptOutcome, exitCode: Int32? = nil, signal: Int32? = nil,
        outputs: [String: String] = [:], startedAt: Int64, endedAt: Int64, message: String? = nil, tracking: String? = nil
    ) {
        self.tracking = tracking
        self.attemptID = attemptID
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.outputs = outputs
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.message = message
    }
}

/// Coordinator → worker: the finish report was recorded, or rejected (a stale attempt).
public struct AttemptAcknowledged: Codable, Hashable, Sendable {
    public var attemptID: String
    public var accepted: Bool
    public var reason: String?

    public init(attemptID: String, accepted: Bool, reason: String? = nil) {
        self.attemptID = attemptID
        self.accepted = accepted
        self.reason = reason
    }
}

/// Which stream a log chunk came from.
public enum LogStream: String, Codable, Hashable, Sendable {
    case stdout
    case stderr
}

/// Worker → coordinator: bytes the step wrote; the bytes travel in the bulk frame.
public struct LogChunk: Codable, Hashable, Sendable {
    public var attemptID: String
    public var stream: LogStream
    /// Per attempt, increasing from 0; lets the coordinator drop duplicates.
    public var sequence: Int

    public init(attemptID: String, stream: LogStream, sequence: Int) {
        self.attemptID = attemptID
        self.stream = stream
        self.sequence = sequence
    }
}

/// Worker → coordinator: what the step tracked since the last `metrics` of its attempt: every new
/// metric value (its history), and params and tags that are new or changed. Sent about once a second
/// while the step runs, and once more when it ends.
public struct Metrics: Codable, Hashable, Sendable {
    public var attemptID: String
    /// The latest value of each metric among `points` (what `conduit status` shows).
    public var values: [String: Double]
    /// The number of the first of `points` within the attempt (points are numbered from 0 in the
    /// order the worker read them): lets the coordinator drop a point it has already recorded.
    public var firstPoint: Int
    /// New metric values, oldest first.
    public var points: [MetricPoint]
    /// Params and tags, new or changed since the last message.
    public var params: [TrackedValue]
    public var tags: [TrackedValue]

    public init(attemptID: String, values: [String: Double], firstPoint: Int = 0, points: [MetricPoint] = [], params: [TrackedValue] = [], tags: [TrackedValue] = []) {
        self.attemptID = attemptID
        self.values = values
        self.firstPoint = firstPoint
        self.points = points
        self.params = params
        self.tags = tags
    }

    private enum CodingKeys: String, CodingKey { case attemptID, values, firstPoint, points, params, tags }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        attemptID = try container.decode(String.self, forKey: .attemptID)
        values = try container.decode([String: Double].self, forKey: .values)
        firstPoint = try container.decodeIfPresent(Int.self, forKey: .firstPoint) ?? 0
        points = try container.decodeIfPresent([MetricPoint].self, forKey: .points) ?? []
        params = try container.decodeIfPresent([TrackedValue].self, forKey: .params) ?? []
        tags = try container.decodeIfPresent([TrackedValue].self, forKey: .tags) ?? []
    }
}

/// One logged value of a metric.
public struct MetricPoint: Codable, Hashable, Sendable {
    public var key: String
    public var value: Double
    /// The training step it was logged at (MLflow's `step`; 0 when none was given).
    public var step: Int64
    /// When it was logged, in milliseconds since 1970.
    public var timestamp: Int64
    /// The MLflow run it was logged in (a step may log several, nested ones too); nil for values
    /// written to `$CONDUIT_METRICS_FILE`.
    public var run: String?

    public init(key: String, value: Double, step: Int64, timestamp: Int64, run: String? = nil) {
        self.key = key
        self.value = value
        self.step = step
        self.timestamp = timestamp
        self.run = run
    }
}

/// A param or tag a step logged, as text.
public struct TrackedValue: Codable, Hashable, Sendable {
    public var key: String
    public var value: String
    /// The MLflow run it belongs to.
    public var run: String?

    public init(key: String, value: String, run: String? = nil) {
        self.key = key
        self.value = value
        self.run = run
    }
}
