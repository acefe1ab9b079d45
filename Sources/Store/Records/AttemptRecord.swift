import GRDB
import Protocol

/// A row of `attempts`: one dispatch of a step to a worker.
public struct AttemptRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "attempts"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case id
        case runID = "run_id"
        case step
        case worker
        case status
        case exitCode = "exit_code"
        case signal
        case dispatchedAt = "dispatched_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case message
        case gpuDevices = "gpu_devices"
        case workerIdentity = "worker_identity"
        case trackingTree = "tracking_tree"
    }

    public enum Columns {
        public static let id = Column("id")
        public static let runID = Column("run_id")
        public static let step = Column("step")
    }

    public var id: String
    public var runID: String
    public var step: String
    public var worker: String
    /// `dispatched`, `running`, or an `AttemptOutcome` raw value once ended.
    public var status: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var dispatchedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    public var message: String?
    /// The GPUs leased to the attempt, as the worker shows them to it in `CUDA_VISIBLE_DEVICES`
    /// (`0,2`); nil for an attempt given none.
    public var gpuDevices: String?
    /// Who the attempt was dispatched to, as the coordinator's `WorkerIdentity` stores it
    /// (`key:Z85` for an authenticated worker, `name:NAME` in plain-text mode); nil in rows written
    /// before identities were recorded. Only that identity may re-attach the attempt.
    public var workerIdentity: String?
    /// The artifact digest of the step's MLflow store (its artifacts and models), kept with a
    /// succeeded attempt that logged with MLflow.
    public var trackingTree: String?

    public init(id: String, runID: String, step: String, worker: String, status: String, dispatchedAt: Int64) {
        self.id = id
        self.runID = runID
        self.step = step
        self.worker = worker
        self.status = status
        self.dispatchedAt = dispatchedAt
    }
}
