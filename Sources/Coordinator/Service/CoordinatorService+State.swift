import Artifacts
import Protocol
import Spec
import Store
import Transport

/// A run the coordinator is driving.
struct ActiveRun {
    var record: RunRecord
    let plan: PipelinePlan
    var machine: RunMachine
    var steps: [String: StepRecord]
    /// Bayesian trials change when their point is chosen (see `withSweepPoint`).
    var planned: [String: PlannedStep]
    let codeManifests: [String: CacheManifest.Code]
    let force: Set<String>
    /// step → the attempt currently queued or running for it.
    var currentAttempt: [String: String] = [:]
    /// step → resolved inputs (name → digest or URI), once ready.
    var resolvedInputs: [String: [String: String]] = [:]
    /// step → its failures so far (for retries and quarantine).
    var history: [String: FailurePolicy.History] = [:]
    /// step → what it needs of a worker (from `compute:` and `resources:`).
    var requirements: [String: Requirement] = [:]
    /// sweep step → trial → the objective values its latest attempt reported (for early termination).
    var sweepSeries: [String: [String: TrialSeries]] = [:]
    /// Bayesian trial → the point it runs (once chosen).
    var sweepPoints: [String: [String: String]] = [:]
    /// The sweep steps with a `limits.timeout`, found on the first timer tick.
    var timedSweeps: [String]?
}

/// A registered worker connection.
struct ConnectedWorker {
    let id: String
    let name: String
    let peer: PeerID
    let capabilities: WorkerCapabilities
    /// When it was last heard from (monotonic milliseconds).
    var lastSeen: Int64
    var running: Set<String> = []
    let firstSeen: Int64
    /// The authenticated key it registered with (Z85), when workers authenticate.
    let key: String?
    /// Who it is: its key, or in plain-text mode its name. Attempts dispatched to it belong to this.
    var identity: WorkerIdentity { WorkerIdentity(key: key, name: name) }
    /// It drains: takes nothing new, finishes or hands back what it holds.
    var draining = false
    /// The latest heartbeat sequence received from it, echoed back (see `Heartbeat`).
    var heartbeatSequence: UInt64 = 0
}

/// An attempt the coordinator has queued or dispatched. Its lease (owner, holder, last confirmation,
/// orphan) lives in the service's ``AttemptLifecycle``.
struct ActiveAttempt {
    let id: String
    let runID: String
    let step: String
    /// Set once dispatched.
    var record: AttemptRecord?
    var logSequence: Int = 0
}

/// An upload in progress: the writer and how much credit is outstanding.
struct UploadState {
    var writer: BlobWriter
    let size: Int64
    let peer: PeerID
    /// The offset the coordinator last asked the worker to send again from (``UploadCredit/rewind``);
    /// chunks after a dropped one are ignored until the resent one arrives.
    var rewoundAt: Int64? = nil
    /// Rewinds since the last chunk that was stored; too many fail the upload.
    var rewinds = 0
}

/// The objective values one attempt of a trial reported, by point number.
struct TrialSeries {
    var attempt: String
    var values: [Int: Double]

    /// The values in the order the attempt reported them.
    var ordered: [Double] { values.keys.sorted().map { values[$0]! } }
}
