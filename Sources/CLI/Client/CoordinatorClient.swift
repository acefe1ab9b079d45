import Foundation
import Protocol
import Spec

/// What the CLI asks of a coordinator: over HTTP (`HTTPCoordinatorClient`) or in the same
/// process (`LocalCoordinatorClient`, for `conduit run`).
protocol CoordinatorClient: Sendable {
    func missingBlobs(_ digests: [String]) async throws -> [String]
    func uploadBlob(digest: String, source: BlobSource) async throws
    /// Submits a run; `plan` is what `request.planJSON` encodes, for a client that can hand it
    /// over without encoding and decoding it again.
    func submit(_ request: SubmitRequest, plan: PipelinePlan) async throws -> String
    func report(run: String) async throws -> RunReport
    /// Waits (long-poll) until the run changes past `version`, at most `seconds`.
    func waitForChange(run: String, after version: Int64, seconds: Double) async throws -> RunReport
    func runs(limit: Int) async throws -> [RunReport]
    /// Runs that match `filter`, in the order of `sort` (see `RunQuery`), with their steps' metrics.
    func searchRuns(limit: Int, filter: String?, sort: String?) async throws -> [RunReport]
    func workers() async throws -> [WorkerReport]
    /// Asks a connected worker (id or name) to drain; returns the workers afterwards.
    func drain(worker: String) async throws -> [WorkerReport]
    /// The worker keys on the allow-list, revoked ones included.
    func workerKeys() async throws -> [WorkerKeyReport]
    /// Allows a worker public key (Z85) under `name`.
    func allowWorkerKey(_ key: String, name: String) async throws -> WorkerKeyReport
    /// Revokes a worker public key (Z85).
    func revokeWorkerKey(_ key: String) async throws -> WorkerKeyReport
    func cancel(run: String) async throws -> RunReport
    /// A step's log from byte `offset`: its latest (or reused) attempt's, or attempt number `attempt`'s.
    func logs(run: String, step: String, attempt: Int?, offset: Int64) async throws -> (bytes: [UInt8], finished: Bool)
    func explain(run: String, step: String) async throws -> Explanation
    /// The history of what a run's steps (or one step) tracked, after `after` (see `MetricHistoryReport.last`).
    func metrics(run: String, step: String?, after: Int64) async throws -> MetricHistoryReport
    func outputs(run: String) async throws -> [OutputArtifact]
    /// Writes a blob's bytes to `path`.
    func downloadBlob(digest: String, to path: String) async throws
    /// What a submission would run and reuse; records nothing.
    func dryRun(_ request: DryRunRequest, plan: PipelinePlan) async throws -> DryRunReport
    /// Submits a finished run again (or, with `dryRun`, says what that would do).
    func rerun(run: String, request: RerunRequest) async throws -> RerunResponse
    /// How run `b` differs from run `a`.
    func diff(a: String, b: String) async throws -> RunDiffReport
    /// What a step ran with and what it recorded.
    func stepDetail(run: String, step: String) async throws -> StepDetail
    /// Deletes old runs and the blobs nothing refers to any more (or, with `dryRun`, says what would go).
    func prune(_ request: PruneRequest) async throws -> PruneReport
    /// The data assets runs registered (outputs with `name:`), oldest first.
    func outputAssets() async throws -> [OutputAsset]
    /// Where an output or a registered data asset came from, and which steps read it.
    func lineage(of subject: LineageSubject) async throws -> LineageReport
}

/// Where the bytes of a blob to upload come from.
enum BlobSource: Sendable {
    case file(String)
    case bytes([UInt8])
}

/// An error the CLI reports to the user, with the exit status to use.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    init(_ message: String, exitCode: Int32 = ExitStatus.usage) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }
}

/// The CLI's exit statuses (documented in `conduit --help` and README).
enum ExitStatus {
    /// The run completed, or the command succeeded.
    static let success: Int32 = 0
    /// The run failed or was canceled.
    static let runFailed: Int32 = 1
    /// The pipeline or the command line is invalid.
    static let usage: Int32 = 2
    /// The coordinator could not be reached or answered with an error.
    static let unavailable: Int32 = 3
    /// Ctrl-C: the run was canceled (`conduit run`) or left going (`conduit submit --wait`).
    static let interrupted: Int32 = 130
}
