import GRDB

/// A row of `mlflow_mirror`: how far an attempt's tracking has been mirrored to the user's MLflow
/// server. Written after each request the server accepted, so a restarted coordinator goes on
/// where it stopped instead of sending values again.
public struct MLflowMirrorRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "mlflow_mirror"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case attemptID = "attempt_id"
        case mlflowRunID = "mlflow_run_id"
        case lastPointSeq = "last_point_seq"
        case sentValuesJSON = "sent_values_json"
        case ended
    }

    public var attemptID: String
    /// The run created for the attempt on the MLflow server.
    public var mlflowRunID: String
    /// The `metric_points.seq` of the attempt's last value sent (0: none yet).
    public var lastPointSeq: Int64
    /// `{"param\u{1F}KEY": value, "tag\u{1F}KEY": value}` of what was sent (a param is sent once).
    public var sentValuesJSON: String
    /// Whether the MLflow run was ended (the attempt is over and everything was sent).
    public var ended: Bool

    public init(attemptID: String, mlflowRunID: String, lastPointSeq: Int64 = 0, sentValuesJSON: String = "{}", ended: Bool = false) {
        self.attemptID = attemptID
        self.mlflowRunID = mlflowRunID
        self.lastPointSeq = lastPointSeq
        self.sentValuesJSON = sentValuesJSON
        self.ended = ended
    }
}
