import Foundation
import Protocol

/// The human form of `conduit status RUN`: each step with its times, metrics and attempts.
enum StatusPrinter {
    /// The lines to print for `report`.
    static func lines(of report: RunReport) -> [String] {
        var lines = ["run \(report.run) (\(report.pipeline)): \(report.status.rawValue)\(report.reason.map { " — \($0)" } ?? "")"]
        let width = max(8, report.steps.map(\.name.count).max() ?? 8)
        let indent = String(repeating: " ", count: width + 4)
        for step in report.steps {
            var line = "  " + step.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + ProgressPrinter.describe(step)
            if step.attempts > 1 { line += ", \(step.attempts) attempts" }
            if let reason = step.reason, step.status != .completed { line += "  (\(reason))" }
            lines.append(line)
            // A completed step's reason: a sweep's choice of trial, or why reuse was not allowed.
            if let reason = step.reason, step.status == .completed { lines.append(indent + reason) }
            if let point = step.point, !point.isEmpty {
                lines.append(indent + "point: " + point.keys.sorted().map { "\($0) \(point[$0]!)" }.joined(separator: ", "))
            }
            if let source = step.sourceRun, step.reused { lines.append(indent + "reused from run \(source)") }
            if let times = times(start: step.startedAt, end: step.finishedAt, seconds: step.durationSeconds) { lines.append(indent + times) }
            if let metrics = step.metrics, !metrics.isEmpty {
                lines.append(indent + "metrics: " + metrics.keys.sorted().map { "\($0) \(format(metrics[$0]!))" }.joined(separator: ", "))
            }
            for registration in step.registered ?? [] { lines.append(indent + "data asset: " + registration) }
            for attempt in step.attemptHistory ?? [] {
                var text = indent + "attempt \(attempt.number)  \(attempt.status)  on \(attempt.worker)"
                if let times = times(start: attempt.startedAt ?? attempt.dispatchedAt, end: attempt.finishedAt, seconds: attempt.seconds) {
                    text += "  " + times
                }
                if let message = attempt.message, attempt.status != "succeeded" { text += "  (\(message))" }
                lines.append(text)
            }
        }
        for name in report.outputs.keys.sorted() { lines.append("output \(name): \(report.outputs[name]!)") }
        return lines
    }

    /// `started T, ended T (N s)`, as much of it as is known.
    static func times(start: Int64?, end: Int64?, seconds: Double?) -> String? {
        guard let start else { return end.map { "ended \(timestamp($0))" } }
        var text = "started \(timestamp(start))"
        if let end { text += ", ended \(timestamp(end))" }
        if let seconds { text += String(format: " (%.1f s)", seconds) }
        return text
    }

    /// A time in UTC to the second, ISO 8601 (as `conduit runs` prints).
    static func timestamp(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// A metric value as short as it reads exactly (`0.91`, `12`, `1e-05`).
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
