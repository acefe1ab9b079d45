import ArgumentParser
import Foundation
import Protocol

/// `conduit metrics RUN [STEP]`: every value of every metric a run's steps logged, with params and tags.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the history of the metrics a run's steps logged (MLflow or $CONDUIT_METRICS_FILE), with params and tags.",
        discussion: """
            Without a format, each metric is summarized on one line (how many values, the training steps, \
            first, last, lowest and highest value, and a sparkline of the history). --csv prints every value; \
            --json prints everything. --follow prints values as they arrive (about once a second while a step \
            runs) until the run ends. A reused step shows the history of the run it reused.
            """
    )

    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "Only this step (nested steps as node/child).")
    var step: String?

    @Flag(help: "Print one JSON object (with --follow: one JSON object per value, a line each).")
    var json = false

    @Flag(help: "Print every value as CSV: step,attempt,mlflow_run,key,step_index,timestamp,value.")
    var csv = false

    @Flag(name: .shortAndLong, help: "Keep printing new values until the run ends.")
    var follow = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
    }

    func run() async throws {
        try await withCLIErrors {
            let client = try await client.client()
            var report = try await client.metrics(run: run, step: step, after: 0)
            if !follow {
                // Every page of a long history.
                while report.more {
                    let next = try await client.metrics(run: run, step: step, after: report.last)
                    report.points += next.points
                    report.last = next.last
                    report.more = next.more
                }
                if json {
                    printJSON(report)
                } else if csv {
                    print(MetricsPrinter.csvHeader)
                    report.points.forEach { print(MetricsPrinter.csvRow($0)) }
                } else {
                    MetricsPrinter.summary(of: report).forEach { print($0) }
                }
                return ExitStatus.success
            }
            // Written unbuffered: a pipe (`| tee`, a plotting script) sees each value as it arrives.
            if csv { emit(MetricsPrinter.csvHeader) }
            while true {
                for point in report.points {
                    emit(json ? jsonLine(point) : csv ? MetricsPrinter.csvRow(point) : MetricsPrinter.line(point))
                }
                if report.status.isFinal && !report.more { break }
                if !report.more { try await Task.sleep(for: .seconds(1)) }
                let wasFinal = report.status.isFinal
                report = try await client.metrics(run: run, step: step, after: report.last)
                // The run may have ended between two reads: once it is seen final, one more read
                // gets what came meanwhile.
                if report.status.isFinal && !wasFinal && !report.more {
                    let rest = try await client.metrics(run: run, step: step, after: report.last)
                    report.points += rest.points
                    report.last = rest.last
                    report.more = rest.more
                }
            }
            return ExitStatus.success
        }
    }

    func jsonLine(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// How `conduit metrics` prints a history.
enum MetricsPrinter {
    static let csvHeader = "step,attempt,mlflow_run,key,step_index,timestamp,value"

    static func csvRow(_ point: StepMetricPoint) -> String {
        [csvField(point.step), "\(point.attempt)", csvField(point.mlflowRun ?? ""), csvField(point.key), "\(point.stepIndex)", "\(point.timestamp)", "\(point.value)"]
            .joined(separator: ",")
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One value as `--follow` prints it.
    static func line(_ point: StepMetricPoint) -> String {
        "\(point.step) (attempt \(point.attempt))  \(point.key)  step \(point.stepIndex)  \(number(point.value))"
    }

    /// Each step's metrics, one line each, then its params and tags.
    static func summary(of report: MetricHistoryReport) -> [String] {
        var lines = ["run \(report.run) (\(report.status.rawValue))"]
        if report.points.isEmpty && report.params.isEmpty && report.tags.isEmpty {
            lines.append("  no metrics, params or tags were logged")
            return lines
        }
        let steps = orderedUnique(report.points.map(\.step) + report.params.map(\.step) + report.tags.map(\.step))
        for step in steps {
            let points = report.points.filter { $0.step == step }
            let attempts = orderedUnique(points.map(\.attempt) + report.params.filter { $0.step == step }.map(\.attempt))
            for attempt in attempts {
                let mine = points.filter { $0.attempt == attempt }
                let source = (mine.first?.sourceRun).map { ", reused from run \($0)" } ?? ""
                lines.append("  \(step)  attempt \(attempt)\(source)")
                let runs = orderedUnique(mine.map { $0.mlflowRun ?? "" })
                let series = orderedUnique(mine.map { SeriesKey(run: $0.mlflowRun ?? "", key: $0.key) })
                let width = series.map { label($0, showRun: runs.count > 1).count }.max() ?? 0
                for key in series {
                    let values = mine.filter { $0.key == key.key && ($0.mlflowRun ?? "") == key.run }
                    let name = label(key, showRun: runs.count > 1)
                    lines.append("    " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + describe(values))
                }
                let params = report.params.filter { $0.step == step && $0.attempt == attempt }
                if !params.isEmpty { lines.append("    params: " + params.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
                // MLflow's own tags (mlflow.user, mlflow.source.*) are in --json.
                let tags = report.tags.filter { $0.step == step && $0.attempt == attempt && !$0.key.hasPrefix("mlflow.") }
                if !tags.isEmpty { lines.append("    tags: " + tags.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
            }
        }
        return lines
    }

    struct SeriesKey: Hashable {
        var run: String
        var key: String
    }

    static func label(_ key: SeriesKey, showRun: Bool) -> String {
        showRun && !key.run.isEmpty ? "\(key.key) (MLflow run \(key.run.prefix(8)))" : key.key
    }

    /// `50 values, steps 0–49: first 0.9, last 0.021, min 0.021, max 0.9  ▇▆▅▄▃▂▂▁`
    static func describe(_ points: [StepMetricPoint]) -> String {
        guard let first = points.first, let last = points.last else { return "" }
        let values = points.map(\.value)
        let low = values.min()!, high = values.max()!
        if points.count == 1 { return number(first.value) + (first.stepIndex == 0 ? "" : " (step \(first.stepIndex))") }
        let steps = points.map(\.stepIndex)
        return "\(points.count) values, steps \(steps.min()!)–\(steps.max()!): first \(number(first.value)), last \(number(last.value)), "
            + "min \(number(low)), max \(number(high))  \(sparkline(values))"
    }

    /// The history in at most 24 block characters (each the mean of its share of the values).
    static func sparkline(_ values: [Double]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        let width = min(24, values.count)
        guard width > 1, let low = values.min(), let high = values.max() else { return "" }
        var result = ""
        for column in 0..<width {
            let slice = values[(column * values.count / width)..<max(column * values.count / width + 1, (column + 1) * values.count / width)]
            let mean = slice.reduce(0, +) / Double(slice.count)
            let level = high > low ? Int(((mean - low) / (high - low) * Double(blocks.count - 1)).rounded()) : 0
            result.append(blocks[min(max(level, 0), blocks.count - 1)])
        }
        return result
    }

    /// A value as `conduit status` prints it.
    static func number(_ value: Double) -> String { StatusPrinter.format(value) }

    static func orderedUnique<T: Hashable>(_ items: [T]) -> [T] {
        var seen: Set<T> = []
        return items.filter { seen.insert($0).inserted }
    }
}
