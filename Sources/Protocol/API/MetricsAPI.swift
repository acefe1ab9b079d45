/// `GET /v1/runs/{id}/metrics[?step=NAME][&after=SEQ]`: the history of what a run's steps tracked.
public struct MetricHistoryReport: Codable, Hashable, Sendable {
    public var run: String
    /// The run's status: a follower stops once it is final.
    public var status: RunStatus
    /// Metric values in the order they were recorded (a reused step's come from the run it reused,
    /// named in `sourceRun`, and only when `after` is 0).
    public var points: [StepMetricPoint]
    /// Params and tags, the latest value of each.
    public var params: [StepTrackedValue]
    public var tags: [StepTrackedValue]
    /// Pass as `after` to get only the values recorded since this report.
    public var last: Int64
    /// More values were recorded than one answer holds (50,000): ask again with `after: last`.
    public var more: Bool

    public init(run: String, status: RunStatus, points: [StepMetricPoint], params: [StepTrackedValue], tags: [StepTrackedValue], last: Int64, more: Bool = false) {
        self.more = more
        self.run = run
        self.status = status
        self.points = points
        self.params = params
        self.tags = tags
        self.last = last
    }
}

/// One value of a metric, logged by a step.
public struct StepMetricPoint: Codable, Hashable, Sendable {
    public var step: String
    /// The attempt's number within the step (1 for the first).
    public var attempt: Int
    /// The MLflow run it was logged in; nil for `$CONDUIT_METRICS_FILE` values.
    public var mlflowRun: String?
    public var key: String
    /// The training step it was logged at.
    public var stepIndex: Int64
    /// Milliseconds since 1970.
    public var timestamp: Int64
    public var value: Double
    /// For a reused step: the run whose attempt logged it.
    public var sourceRun: String?

    public init(step: String, attempt: Int, mlflowRun: String?, key: String, stepIndex: Int64, timestamp: Int64, value: Double, sourceRun: String? = nil) {
        self.step = step
        self.attempt = attempt
        self.mlflowRun = mlflowRun
        self.key = key
        self.stepIndex = stepIndex
        self.timestamp = timestamp
        self.value = value
        self.sourceRun = sourceRun
    }
}

/// A param or tag a step logged.
public struct StepTrackedValue: Codable, Hashable, Sendable {
    public var step: String
    public var attempt: Int
    public var mlflowRun: String?
    public var key: String
    public var value: String
    public var sourceRun: String?

    public init(step: String, attempt: Int, mlflowRun: String?, key: String, value: String, sourceRun: String? = nil) {
        self.step = step
        self.attempt = attempt
        self.mlflowRun = mlflowRun
        self.key = key
        self.value = value
        self.sourceRun = sourceRun
    }
}
