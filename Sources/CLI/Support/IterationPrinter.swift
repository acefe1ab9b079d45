import Foundation
import Protocol

/// Human output of dry runs and run diffs.
enum IterationPrinter {
    /// One line per step: name, decision, why; then a count.
    static func lines(of report: DryRunReport) -> [String] {
        let width = max(4, report.steps.map(\.name.count).max() ?? 4)
        var lines: [String] = []
        for step in report.steps {
            let name = step.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let decision = step.decision.padding(toLength: 7, withPad: " ", startingAt: 0)
            var reasons: [String]
            switch step.decision {
            case "reuse":
                reasons = ["same as run \(step.sourceRun ?? "?") \(step.name)"] + step.reasons
            case "depends":
                let upstream = step.upstream.joined(separator: ", ")
                reasons = ["runs unless \(upstream) produce\(step.upstream.count == 1 ? "s" : "") the same outputs as before"]
                reasons += step.reasons.map { "and: \($0)" }
            default:
                reasons = step.reasons.isEmpty ? ["will run"] : step.reasons
            }
            // Name the execution the reasons compare with, unless a reason already does.
            if step.decision != "reuse", let compared = step.sourceRun, !reasons.contains(where: { $0.contains("run \(compared)") }) {
                reasons.append("(compared with run \(compared), the nearest earlier execution)")
            }
            lines.append("\(name)  \(decision)  \(reasons[0])")
            let indent = String(repeating: " ", count: width + 11)
            for reason in reasons.dropFirst() { lines.append(indent + reason) }
        }
        let counts = Dictionary(grouping: report.steps, by: \.decision).mapValues(\.count)
        var summary = "\(counts["run"] ?? 0) to run, \(counts["reuse"] ?? 0) to reuse"
        if let depends = counts["depends"] { summary += ", \(depends) depending on upstream results" }
        if let sweeps = counts["sweep"] { summary += ", \(sweeps) sweep\(sweeps == 1 ? "" : "s") choosing a best trial" }
        lines.append(summary + " (dry run: nothing was submitted)")
        return lines
    }

    /// A table: step | A | B | what differs | metric deltas; then the steps only one run has.
    static func lines(of diff: RunDiffReport) -> [String] {
        var rows: [[String]] = [["step", "A", "B", "what differs", "metrics (A → B)"]]
        for step in diff.steps {
            var differs = step.differences
            if differs.isEmpty { differs = [step.sameOutputs == false ? "same inputs, different outputs" : "—"] }
            else if step.sameOutputs == true { differs.append("same outputs") }
            let metrics = step.metrics.map(describe)
            let count = max(differs.count, metrics.count, 1)
            for index in 0..<count {
                rows.append([
                    index == 0 ? step.step : "", index == 0 ? describe(step.a) : "", index == 0 ? describe(step.b) : "",
                    index < differs.count ? differs[index] : "", index < metrics.count ? metrics[index] : "",
                ])
            }
        }
        var widths = [Int](repeating: 0, count: 5)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        var lines = ["A = \(diff.a)", "B = \(diff.b)"]
        for row in rows {
            let cells = row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
            lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        for name in diff.added { lines.append("added in B: \(name)") }
        for name in diff.removed { lines.append("removed in B: \(name)") }
        return lines
    }

    static func describe(_ side: StepDiffSide) -> String {
        if side.reused { return "reused" + (side.sourceRun.map { " (\($0))" } ?? "") }
        return side.status == .completed ? "ran" : side.status.rawValue
    }

    static func describe(_ metric: MetricDelta) -> String {
        func format(_ value: Double?) -> String {
            guard let value else { return "–" }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.6g", value)
        }
        var text = "\(metric.name) \(format(metric.a)) → \(format(metric.b))"
        if let delta = metric.delta { text += " (\(delta >= 0 ? "+" : "")\(format(delta)))" }
        return text
    }
}
