import GRDB
import Protocol

/// A row of `steps`: one leaf step of one run, with its cache decision and outcome.
public struct StepRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "steps"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case name
        case position
        case status
        case reused
        case attempts
        case worker
        case reason
        case cacheKey = "cache_key"
        case manifestJSON = "manifest_json"
        case outputsJSON = "outputs_json"
        case sourceRun = "source_run"
        case sourceAttempt = "source_attempt"
        case logAttempt = "log_attempt"
        case metricsJSON = "metrics_json"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public enum Columns {
        public static let runID = Column("run_id")
        public static let name = Column("name")
        public static let position = Column("position")
        public static let manifestJSON = Column("manifest_json")
    }

    public var runID: String
    public var name: String
    /// Index in the plan's topological order.
    public var position: Int
    public var status: StepStatus
    public var reused: Bool
    public var attempts: Int
    public var worker: String?
    public var reason: String?
    /// SHA-256 of the canonical cache manifest, once inputs are known.
    public var cacheKey: String?
    /// The full cache manifest, JSON, so a later miss can be explained field by field.
    public var manifestJSON: String?
    /// Output name → artifact digest, JSON, once the step succeeded.
    public var outputsJSON: String?
    /// For a reused step: the run and attempt whose outputs were reused.
    public var sourceRun: String?
    public var sourceAttempt: String?
    /// The attempt whose log `conduit logs` shows (the last one, or the reused one).
    public var logAttempt: String?
    /// Metric name → value, JSON.
    public var metricsJSON: String?
    public var startedAt: Int64?
    public var finishedAt: Int64?

    public init(runID: String, name: String, position: Int, status: StepStatus) {
        self.runID = runID
        self.name = name
        self.position = position
        self.status = status
        self.reused = false
        self.attempts = 0
    }
}
