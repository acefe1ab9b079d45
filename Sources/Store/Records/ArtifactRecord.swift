import GRDB
import Protocol

/// A row of `artifacts`: a committed artifact (its manifest digest, kind and total size).
public struct ArtifactRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "artifacts"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case digest
        case kind
        case size
        case createdAt = "created_at"
    }

    public var digest: String
    public var kind: String
    public var size: Int64
    public var createdAt: Int64

    public init(digest: String, kind: String, size: Int64, createdAt: Int64) {
        self.digest = digest
        self.kind = kind
        self.size = size
        self.createdAt = createdAt
    }
}
