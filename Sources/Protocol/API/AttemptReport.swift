/// One attempt of a step in a run report: a dispatch to a worker and how it ended.
///
/// A step that is retried has one of these per attempt, oldest first; `status --json` prints
/// them under each step's `attemptHistory` with exactly these names.
public struct AttemptReport: Codable, Hashable, Sendable {
    /// 1 for the first attempt of the step in its run, 2 for the first retry, and so on
    /// (`conduit logs RUN STEP --attempt N`).
    public var number: Int
    /// The attempt id (`CONDUIT_ATTEMPT_ID` in the step's environment).
    public var id: String
    /// The worker it was dispatched to.
    public var worker: String
    /// `dispatched` or `running` while it is in progress; once ended, its outcome: `succeeded`,
    /// `failed`, `timed_out`, `canceled`, `worker_error`, `handed_back`, `fenced`, `lost` (the
    /// worker went away) or `coordinator_restart`.
    public var status: String
    /// Milliseconds since 1970: when it was sent to the worker.
    public var dispatchedAt: Int64
    /// Milliseconds since 1970: when its command started, once it has.
    public var startedAt: Int64?
    /// Milliseconds since 1970: when it ended.
    public var finishedAt: Int64?
    /// Wall-clock seconds from start (or dispatch) to end, once ended.
    public var seconds: Double?
    /// The command's exit status, when it exited.
    public var exitCode: Int32?
    /// The signal that killed the command, when one did.
    public var signal: Int32?
    /// Why it ended as it did (`exit code 3`, `the worker went away`), when it did not succeed.
    public var message: String?
    /// The artifact digest of its MLflow store (runs' artifacts and logged models), when it
    /// succeeded and logged with MLflow (`conduit download RUN STEP --mlflow DIR`).
    public var mlflowStore: String?

    public init(
        number: Int, id: String, worker: String, status: String, dispatchedAt: Int64, startedAt: Int64? = nil, finishedAt: Int64? = nil,
        exitCode: Int32? = nil, signal: Int32? = nil, message: String? = nil
    ) {
        self.number = number
        self.id = id
        self.worker = worker
        self.status = status
        self.dispatchedAt = dispatchedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.message = message
        if let finishedAt { seconds = Double(finishedAt - (startedAt ?? dispatchedAt)) / 1000 }
    }

    /// Whether it has ended.
    public var hasEnded: Bool { status != "dispatched" && status != "running" }
}
