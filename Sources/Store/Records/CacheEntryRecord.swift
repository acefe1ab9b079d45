import GRDB

/// A row of `cache_entries`: the outputs recorded for a cache key.
public struct CacheEntryRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "cache_entries"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case key
        case runID = "run_id"
        case step
        case attemptID = "attempt_id"
        case outputsJSON = "outputs_json"
        case createdAt = "created_at"
    }

    public enum Columns {
        public static let key = Column("key")
    }

    public var key: String
    public var runID: String
    public var step: String
    public var attemptID: String
    /// Output name → artifact digest, JSON.
    public var outputsJSON: String
    public var createdAt: Int64

    public init(key: String, runID: String, step: String, attemptID: String, outputsJSON: String, createdAt: Int64) {
        self.key = key
        self.runID = runID
        self.step = step
        self.attemptID = attemptID
        self.outputsJSON = outputsJSON
        self.createdAt = createdAt
    }
}
