import Foundation
import Protocol

/// Prints live progress to standard error: one line per step transition.
final class ProgressPrinter: Sendable {
    let enabled: Bool

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func note(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("conduit: \(text)\n".utf8))
    }

    /// Prints what changed between two reports of the same run.
    func show(_ report: RunReport, previous: RunReport?) {
        guard enabled else { return }
        let width = max(8, report.steps.map(\.name.count).max() ?? 8)
        let before = Dictionary((previous?.steps ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // One write per report, however many steps changed.
        var text = ""
        for step in report.steps {
            let old = before[step.name]
            // A step no connected worker can take says so once: it waits, it is not failed.
            if step.status == .queued, let reason = step.reason, reason.contains("no such worker"), old?.reason != reason {
                text += "  " + step.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + reason + "\n"
                continue
            }
            guard old?.status != step.status || old?.reused != step.reused else { continue }
            if step.status == .waiting || step.status == .queued { continue }
            var line = "  " + step.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Self.describe(step)
            if let reason = step.reason, step.status == .failed || step.status == .timedOut || step.status == .skipped {
                line += "  (\(reason))"
            }
            text += line + "\n"
        }
        if !text.isEmpty { FileHandle.standardError.write(Data(text.utf8)) }
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
