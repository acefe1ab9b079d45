import GRDB

/// A row of `events`: an append-only history of what happened to runs and steps.
public struct EventRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "events"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case seq
        case runID = "run_id"
        case step
        case kind
        case detail
        case at
    }

    public var seq: Int64?
    public var runID: String
    public var step: String?
    public var kind: String
    public var detail: String?
    public var at: Int64

    public init(runID: String, step: String?, kind: String, detail: String?, at: Int64) {
        self.runID = runID
        self.step = step
        self.kind = kind
        self.detail = detail
        self.at = at
    }
}
