/// The calls of MLflow's tracking REST API (`/api/2.0/mlflow/...`) the mirror makes. The
/// coordinator takes it as a protocol, as it takes its transport: the daemon passes the HTTP
/// client, tests may pass a fake.
public protocol MLflowTrackingAPI: Sendable {
    /// The id of the experiment named `name`, created when there is none
    /// (`experiments/get-by-name`, `experiments/create`).
    func experimentID(named name: String) async throws(MLflowMirrorError) -> String
    /// The id of an active run of `experimentID` carrying all of `tags`, if there is one (`runs/search`).
    func findRun(experimentID: String, tags: [String: String]) async throws(MLflowMirrorError) -> String?
    /// Creates a run (`runs/create`) and returns its id.
    func createRun(experimentID: String, startTime: Int64, tags: [String: String]) async throws(MLflowMirrorError) -> String
    /// Logs values to a run (`runs/log-batch`); within MLflow's limits per call.
    func logBatch(runID: String, metrics: [MLflowMetric], params: [MLflowKeyValue], tags: [MLflowKeyValue]) async throws(MLflowMirrorError)
    /// Ends a run with `status` (`FINISHED`, `FAILED`, `KILLED`) at `endTime` (`runs/update`).
    func endRun(runID: String, status: String, endTime: Int64) async throws(MLflowMirrorError)
}
