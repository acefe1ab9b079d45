import Foundation
import Protocol
import Spec
import Synchronization

/// Prints live progress to standard error: the shell around `ProgressBoard`, which decides what
/// to write; this only writes it and says when the follower must fetch more.
final class ProgressPrinter: Sendable {
    let enabled: Bool
    /// Whether the follower must read the running steps' output: to draw their last line on a
    /// terminal, or to interleave it (`--logs`).
    let readsOutput: Bool
    /// Whether running steps are redrawn in place (a terminal), so the follower ticks often.
    let redraws: Bool
    private let board: Mutex<ProgressBoard>

    /// With `logs`, step output is interleaved; `retryBudgets` (step → `retry.attempts`) lets a
    /// retry say `attempt 2 of 3`. `terminal` is where the output goes (standard error by default).
    init(enabled: Bool, logs: Bool = false, retryBudgets: [String: Int] = [:], terminal: TerminalOutput = .standardError()) {
        self.enabled = enabled
        redraws = enabled && terminal.redraws
        readsOutput = enabled && (logs || terminal.redraws)
        board = Mutex(ProgressBoard(settings: .init(live: redraws, logs: logs, width: terminal.width, retryBudgets: retryBudgets)))
        // Log lines then go above the drawing instead of tearing it.
        if redraws { StandardError.route(through: self) }
    }

    /// A printer for following a run of `plan`, which knows its steps' retry budgets.
    convenience init(enabled: Bool, logs: Bool, plan: PipelinePlan) {
        var budgets: [String: Int] = [:]
        for step in plan.steps { if let retry = step.retry { budgets[step.name] = retry.attempts } }
        self.init(enabled: enabled, logs: logs, retryBudgets: budgets)
    }

    func note(_ text: String) {
        _ = handle(.note(text))
    }

    /// Gives the board an event and writes what it says; returns true when it asks for the run's
    /// detailed report.
    @discardableResult
    func handle(_ event: ProgressBoard.Event) -> Bool {
        guard enabled else { return false }
        var wantsDetail = false
        board.withLock { board in
            for action in board.on(event) {
                switch action {
                case .write(let text): FileHandle.standardError.write(Data(text.utf8))
                case .fetchDetail: wantsDetail = true
                }
            }
        }
        if case .finished = event, redraws { StandardError.route(through: nil) }
        return wantsDetail
    }

    /// Milliseconds since 1970, for the board's events.
    static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    static func describe(_ step: StepReport) -> String {
        switch step.status {
        case .completed where step.reused: return "reused"
        case .completed: return "completed" + (step.seconds.map { String(format: " in %.1fs", $0) } ?? "") + placement(step)
        case .running: return "running" + placement(step)
        case .timedOut: return "timed out"
        default: return step.status.rawValue
        }
    }

    /// ` on WORKER (GPU 0,1)`, or nothing when unknown.
    static func placement(_ step: StepReport) -> String {
        guard let worker = step.worker else { return "" }
        let simulated = step.gpusSimulated == true ? ", simulated" : ""
        let gpus = step.gpus.map { " (GPU \($0.map(String.init).joined(separator: ","))\(simulated))" } ?? ""
        return " on \(worker)" + gpus
    }
}
