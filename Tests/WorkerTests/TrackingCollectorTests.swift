import Foundation
import Protocol
import TestKit
import Testing
@testable import Worker

/// What a step tracks, read a little at a time: `$CONDUIT_METRICS_FILE` lines and MLflow's file store.
@Suite struct TrackingCollectorTests {
    static func append(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    @Test func aMetricLineIsTimestampValueStep() {
        #expect(MLflowFileStore.point(fromLine: Array("1700000000100 0.75 3".utf8), key: "acc", run: "r")
            == MetricPoint(key: "acc", value: 0.75, step: 3, timestamp: 1_700_000_000_100, run: "r"))
        #expect(MLflowFileStore.point(fromLine: Array("1700000000100 0.75".utf8), key: "acc", run: nil)?.step == 0)
        for bad in ["not a metric line", "1700 nan 0", "1700 inf 1", "x 1 2", ""] {
            #expect(MLflowFileStore.point(fromLine: Array(bad.utf8), key: "k", run: nil) == nil, "\(bad)")
        }
    }

    @Test func eachPollReturnsOnlyWhatIsNewAndOnlyWholeLines() throws {
        let root = try ProcessHarness.temporaryDirectory("conduit-tracking")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var collector = TrackingCollector(metricsFile: root + "/metrics.jsonl", mlruns: root + "/mlruns")
        #expect(collector.poll(attemptID: "a", now: 1) == nil, "nothing tracked yet")

        try Self.append("{\"name\": \"loss\", \"value\": 0.9}\n{\"name\": \"loss\", \"value\": 0.5, \"step\": 7}\n{\"name\": \"lo", to: root + "/metrics.jsonl")
        let firstPoll = collector.poll(attemptID: "a", now: 10)
        let first = try #require(firstPoll)
        #expect(first.points == [
            MetricPoint(key: "loss", value: 0.9, step: 0, timestamp: 10), MetricPoint(key: "loss", value: 0.5, step: 7, timestamp: 10),
        ])
        #expect(first.firstPoint == 0 && first.values == ["loss": 0.5])

        // The half-written line completes; a broken line is skipped.
        try Self.append("ss\", \"value\": 0.25}\nnot json\n", to: root + "/metrics.jsonl")
        let secondPoll = collector.poll(attemptID: "a", now: 20)
        let second = try #require(secondPoll)
        #expect(second.points == [MetricPoint(key: "loss", value: 0.25, step: 8, timestamp: 20)], "without a step: the one after the last")
        #expect(second.firstPoint == 2)
        #expect(collector.poll(attemptID: "a", now: 30) == nil)

        // At the end, a last line without its newline counts.
        try Self.append("{\"name\": \"acc\", \"value\": 1}", to: root + "/metrics.jsonl")
        #expect(collector.poll(attemptID: "a", now: 40) == nil)
        #expect(collector.poll(attemptID: "a", now: 50, final: true)?.points.map(\.key) == ["acc"])
    }

    @Test func mlflowHistoriesParamsAndTagsOfEveryRunAreRead() throws {
        let root = try ProcessHarness.temporaryDirectory("conduit-mlruns")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mlruns = root + "/mlruns"
        var collector = TrackingCollector(metricsFile: root + "/none", mlruns: mlruns)
        try Self.append("1000 0.9 0\n1001 0.4 1\n", to: mlruns + "/0/parent/metrics/loss")
        try Self.append("1002 0.8125 0\n", to: mlruns + "/0/child/metrics/eval/f1")
        try Self.append("0.01", to: mlruns + "/0/parent/params/learning_rate")
        try Self.append("adam", to: mlruns + "/0/parent/params/optimizer")
        try Self.append("parent", to: mlruns + "/0/child/tags/mlflow.parentRunId")
        try Self.append("9 9 9\n", to: mlruns + "/.trash/old/metrics/loss")
        try Self.append("1 1 1\n", to: mlruns + "/0/models/m-1/metrics/loss")
        try Self.append("model bytes", to: mlruns + "/0/parent/artifacts/model.pkl")
        let firstPoll = collector.poll(attemptID: "a", now: 5)
        let first = try #require(firstPoll)
        #expect(Set(first.points) == [
            MetricPoint(key: "eval/f1", value: 0.8125, step: 0, timestamp: 1002, run: "child"),
            MetricPoint(key: "loss", value: 0.9, step: 0, timestamp: 1000, run: "parent"),
            MetricPoint(key: "loss", value: 0.4, step: 1, timestamp: 1001, run: "parent"),
        ])
        #expect(Set(first.params) == [TrackedValue(key: "learning_rate", value: "0.01", run: "parent"), TrackedValue(key: "optimizer", value: "adam", run: "parent")])
        #expect(first.tags == [TrackedValue(key: "mlflow.parentRunId", value: "parent", run: "child")])
        #expect(first.values == ["loss": 0.4, "eval/f1": 0.8125, "params.learning_rate": 0.01], "numeric params are shown as metrics too")

        try Self.append("1003 0.2 2\n", to: mlruns + "/0/parent/metrics/loss")
        let secondPoll = collector.poll(attemptID: "a", now: 6)
        let second = try #require(secondPoll)
        #expect(second.points == [MetricPoint(key: "loss", value: 0.2, step: 2, timestamp: 1003, run: "parent")])
        #expect(second.params.isEmpty && second.tags.isEmpty, "unchanged params and tags are not sent again")
    }

    @Test func aFinalPollReadsEverythingInBoundedPieces() throws {
        let root = try ProcessHarness.temporaryDirectory("conduit-tracking")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var collector = TrackingCollector(metricsFile: root + "/metrics.jsonl", mlruns: root + "/mlruns")
        collector.maximumReadBytes = 100
        let lines = (0..<50).map { "{\"name\": \"m\", \"value\": \($0)}\n" }.joined()
        try Self.append(lines + "{\"name\": \"" + String(repeating: "x", count: 300) + "\", \"value\": 1}\n{\"name\": \"m\", \"value\": 50}\n", to: root + "/metrics.jsonl")
        collector.maximumLineBytes = 200
        let runningPoll = collector.poll(attemptID: "a", now: 1)
        let running = try #require(runningPoll)
        #expect(running.points.count < 50, "one poll reads at most maximumReadBytes")
        var rest: [Metrics] = []
        repeat {
            if let piece = collector.poll(attemptID: "a", now: 2, final: true) { rest.append(piece) }
        } while collector.more
        #expect(rest.count > 1, "a final poll is bounded too: the caller polls again while more is set")
        #expect((running.points + rest.flatMap(\.points)).map(\.value) == (0...50).map(Double.init), "every value once, in order; the over-long line skipped")
        #expect(rest.first?.firstPoint == running.points.count)
    }
}
