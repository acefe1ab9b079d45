import GRDB

/// A row of `workers`: every worker that ever registered.
public struct WorkerRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "workers"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case id
        case name
        case capabilitiesJSON = "capabilities_json"
        case connected
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
    }

    public var id: String
    public var name: String
    /// `WorkerCapabilities`, JSON.
    public var capabilitiesJSON: String
    public var connected: Bool
    public var firstSeen: Int64
    public var lastSeen: Int64

    public init(id: String, name: String, capabilitiesJSON: String, connected: Bool, firstSeen: Int64, lastSeen: Int64) {
        self.id = id
        self.name = name
        self.capabilitiesJSON = capabilitiesJSON
        self.connected = connected
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}
