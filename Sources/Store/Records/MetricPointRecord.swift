import GRDB

/// A row of `metric_points`: one value a step logged for a metric, with its training step and time.
/// The history `conduit metrics` prints and plots.
public struct MetricPointRecord: Codable, Hashable, Sendable, FetchableRecord, TableRecord {
    public static let databaseTableName = "metric_points"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case seq
        case attemptID = "attempt_id"
        case point
        case runID = "run_id"
        case step
        case mlflowRun = "mlflow_run"
        case key
        case stepIndex = "step_index"
        case timestamp
        case value
    }

    /// The row's place in the store (increasing): what `--follow` asks for more after.
    public var seq: Int64?
    public var attemptID: String
    /// The point's number within its attempt (repeated points are recorded once).
    public var point: Int
    public var runID: String
    /// The pipeline step.
    public var step: String
    /// The MLflow run it was logged in; empty for `$CONDUIT_METRICS_FILE` values.
    public var mlflowRun: String
    public var key: String
    /// The training step it was logged at.
    public var stepIndex: Int64
    /// Milliseconds since 1970.
    public var timestamp: Int64
    public var value: Double

    public init(attemptID: String, point: Int, runID: String, step: String, mlflowRun: String, key: String, stepIndex: Int64, timestamp: Int64, value: Double) {
        self.attemptID = attemptID
        self.point = point
        self.runID = runID
        self.step = step
        self.mlflowRun = mlflowRun
        self.key = key
        self.stepIndex = stepIndex
        self.timestamp = timestamp
        self.value = value
    }
}

/// A row of `tracked_values`: a param or tag a step logged (the latest value of each).
public struct TrackedValueRecord: Codable, Hashable, Sendable, FetchableRecord, TableRecord {
    public static let databaseTableName = "tracked_values"

    enum CodingKeys: String, CodingKey {
        case attemptID = "attempt_id"
        case runID = "run_id"
        case step
        case kind
        case mlflowRun = "mlflow_run"
        case key
        case value
    }

    public var attemptID: String
    public var runID: String
    public var step: String
    /// `param` or `tag`.
    public var kind: String
    public var mlflowRun: String
    public var key: String
    public var value: String

    public init(attemptID: String, runID: String, step: String, kind: String, mlflowRun: String, key: String, value: String) {
        self.attemptID = attemptID
        self.runID = runID
        self.step = step
        self.kind = kind
        self.mlflowRun = mlflowRun
        self.key = key
        self.value = value
    }
}
