import Protocol

/// The layout of MLflow's file store, which a step that logs with MLflow writes into its attempt's
/// `mlruns` (`MLFLOW_TRACKING_URI=file://ATTEMPT_DIR/mlruns`, allowed explicitly with
/// `MLFLOW_ALLOW_FILE_STORE=true`; see docs/tracking.md for why this store):
/// `EXPERIMENT/RUN/metrics/KEY` holds one line per logged value, `TIMESTAMP VALUE STEP`;
/// `EXPERIMENT/RUN/params/KEY` and `EXPERIMENT/RUN/tags/KEY` hold the value. A key with `/` is a
/// subdirectory. `TrackingCollector` reads it while the step runs.
public enum MLflowFileStore {
    /// The value one metric line records, or nil for a line that is not `TIMESTAMP VALUE [STEP]`
    /// or whose value is not finite (NaN and infinities are not kept).
    public static func point(fromLine line: some Collection<UInt8>, key: String, run: String?) -> MetricPoint? {
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let timestamp = Int64(fields[0]), let value = Double(fields[1]), value.isFinite else { return nil }
        let step = fields.count >= 3 ? Int64(fields[2]) ?? 0 : 0
        return MetricPoint(key: key, value: value, step: step, timestamp: timestamp, run: run)
    }

    /// The variables that point a step's MLflow at the attempt's own store in `attemptDirectory`
    /// (`ATTEMPT_DIR/mlruns`), unless the step names a tracking server itself (`stepEnvironment`
    /// sets `MLFLOW_TRACKING_URI`): then none.
    public static func environment(attemptDirectory: String, stepEnvironment: [String: String]) -> [String: String] {
        guard stepEnvironment["MLFLOW_TRACKING_URI"] == nil else { return [:] }
        // MLflow 3.13 and later refuse a file store at `start_run()` unless it is allowed explicitly.
        return ["MLFLOW_TRACKING_URI": "file://" + attemptDirectory + "/mlruns", "MLFLOW_ALLOW_FILE_STORE": "true"]
    }
}
