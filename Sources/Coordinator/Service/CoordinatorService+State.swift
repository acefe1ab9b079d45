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
    let planned: [String: PlannedStep]
    let codeManifests: [String: CacheManifest.Code]
    let force: Set<String>
    /// step → the attempt currently queued or running for it.
    var currentAttempt: [String: String] = [:]
    /// step → resolved inputs (name → digest or URI), once ready.
    var resolvedInputs: [String: [String: String]] = [:]
    /// step → attempts lost to infrastructure so far.
    var infrastructureFailures: [String: Int] = [:]
}

/// A registered worker connection.
struct ConnectedWorker {
    let id: String
    let name: String
    let peer: PeerID
    let capabilities: WorkerCapabilities
    var lastSeen: ContinuousClock.Instant
    var running: Set<String> = []
    let firstSeen: Int64
}

/// An attempt the coordinator has queued or dispatched.
struct ActiveAttempt {
    let id: String
    let runID: String
    let step: String
    var workerID: String?
    var record: AttemptRecord?
    var logSequence: Int = 0
}

/// An upload in progress: the writer and how much credit is outstanding.
struct UploadState {
    var writer: BlobWriter
    let size: Int64
    let peer: PeerID
}
