import GRDB
import Protocol

/// A row of `runs`: one submission of a pipeline.
public struct RunRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "runs"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case id
        case pipeline
        case status
        case submissionJSON = "submission_json"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
        case reason
    }

    public enum Columns {
        public static let id = Column("id")
        public static let pipeline = Column("pipeline")
        public static let status = Column("status")
        public static let createdAt = Column("created_at")
    }

    public var id: String
    public var pipeline: String
    public var status: RunStatus
    /// The `SubmitRequest` as received, JSON.
    public var submissionJSON: String
    public var createdAt: Int64
    public var finishedAt: Int64?
    public var reason: String?

    public init(id: String, pipeline: String, status: RunStatus, submissionJSON: String, createdAt: Int64, finishedAt: Int64? = nil, reason: String? = nil) {
        self.id = id
        self.pipeline = pipeline
        self.status = status
        self.submissionJSON = submissionJSON
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.reason = reason
    }
}

extension RunStatus: DatabaseValueConvertible {}
extension StepStatus: DatabaseValueConvertible {}
