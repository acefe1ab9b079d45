import GRDB

/// A row of `worker_keys`: a worker public key (CURVE, Z85) the coordinator was told to allow.
///
/// A revoked key keeps its row (with `revokedAt`) so the list shows when access ended; allowing
/// it again clears `revokedAt`.
public struct WorkerKeyRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "worker_keys"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case publicKey = "public_key"
        case name
        case addedAt = "added_at"
        case revokedAt = "revoked_at"
    }

    /// Typed columns for queries.
    public enum Columns {
        public static let publicKey = Column(CodingKeys.publicKey)
        public static let name = Column(CodingKeys.name)
        public static let revokedAt = Column(CodingKeys.revokedAt)
    }

    /// The key, 40 characters of Z85.
    public var publicKey: String
    /// Who the key belongs to, as given when it was allowed.
    public var name: String
    /// Milliseconds since 1970.
    public var addedAt: Int64
    /// When it was revoked (milliseconds since 1970); `nil` while allowed.
    public var revokedAt: Int64?

    public init(publicKey: String, name: String, addedAt: Int64, revokedAt: Int64? = nil) {
        self.publicKey = publicKey
        self.name = name
        self.addedAt = addedAt
        self.revokedAt = revokedAt
    }
}
