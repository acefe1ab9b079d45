import Foundation
import Store

/// The decisions of the mirror to a user's MLflow server, with no I/O: which values go in which
/// `runs/log-batch` call, which run status an attempt ends with, what a run is named and tagged.
/// `MLflowMirror` carries them out.
public enum MLflowMirrorPlanner {
    /// MLflow's limits per `runs/log-batch` call.
    public static let maximumMetricsPerBatch = 1000
    public static let maximumParamsPerBatch = 100
    public static let maximumTagsPerBatch = 100
    /// The longest param and tag values every MLflow server 2.x and 3.x accepts.
    static let maximumParamLength = 6000
    static let maximumTagLength = 5000

    /// The MLflow run status an attempt ends with: `FINISHED` when it succeeded, `KILLED` when it was
    /// canceled or handed back, `FAILED` otherwise; nil while it is dispatched or running.
    public static func runStatus(attemptStatus: String) -> String? {
        switch attemptStatus {
        case "dispatched", "running": nil
        case "succeeded": "FINISHED"
        case "canceled", "handed_back": "KILLED"
        default: "FAILED"
        }
    }

    /// The tags that name the Conduit attempt a mirrored run belongs to (and find it again).
    public static func identityTags(runID: String, step: String, attempt: Int) -> [String: String] {
        ["conduit.run": runID, "conduit.step": step, "conduit.attempt": String(attempt)]
    }

    /// The run's name as MLflow shows it: `STEP (attempt N)`.
    public static func runName(step: String, attempt: Int) -> String {
        "\(step) (attempt \(attempt))"
    }

    /// The experiment a run's attempts go to: the pipeline's `experiment_name`, else, as Azure ML
    /// names it, the name of the folder holding the pipeline file.
    public static func experimentName(experimentName: String?, sourceFile: String) -> String {
        if let experimentName, !experimentName.isEmpty { return experimentName }
        let folder = ((sourceFile as NSString).deletingLastPathComponent as NSString).lastPathComponent
        return folder.isEmpty || folder == "/" ? "Default" : folder
    }

    /// Whether MLflow accepts `key` as a metric, param or tag name: at most 250 characters of
    /// letters, digits, `_ - . /` and spaces.
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 250 && key.allSatisfy { character in
            character.isASCII && (character.isLetter || character.isNumber || "_-./ ".contains(character))
        }
    }

    /// Points as `runs/log-batch` metrics, in order, in calls of at most 1000; values MLflow would
    /// refuse (bad names, non-finite values) are left out.
    public static func metricBatches(_ points: [MetricPointRecord]) -> [[MLflowMetric]] {
        let metrics = points.compactMap { point -> MLflowMetric? in
            guard point.value.isFinite, isValidKey(point.key) else { return nil }
            return MLflowMetric(key: point.key, value: point.value, timestamp: point.timestamp, step: point.stepIndex)
        }
        return stride(from: 0, to: metrics.count, by: maximumMetricsPerBatch).map {
            Array(metrics[$0..<min($0 + maximumMetricsPerBatch, metrics.count)])
        }
    }

    /// The params and tags not sent yet, in calls of at most 100 of each, and what will have been
    /// sent once they are. A param is sent once (MLflow refuses to change one; the first value
    /// logged, by any of the attempt's MLflow runs, stays); a tag again when its value changes.
    /// MLflow's own tags (`mlflow.*`, which name runs of the step's own store) are not sent.
    public static func valueBatches(
        _ values: [TrackedValueRecord], sent: [String: String]
    ) -> (batches: [(params: [MLflowKeyValue], tags: [MLflowKeyValue])], sent: [String: String]) {
        var sent = sent
        var params: [MLflowKeyValue] = [], tags: [MLflowKeyValue] = []
        for value in values where isValidKey(value.key) {
            switch value.kind {
            case "param":
                let name = "param\u{1F}" + value.key
                guard sent[name] == nil else { continue }
                let text = String(value.value.prefix(maximumParamLength))
                sent[name] = text
                params.append(MLflowKeyValue(key: value.key, value: text))
            case "tag":
                guard !value.key.hasPrefix("mlflow."), !value.key.hasPrefix("conduit.") else { continue }
                let name = "tag\u{1F}" + value.key
                let text = String(value.value.prefix(maximumTagLength))
                guard sent[name] != text else { continue }
                sent[name] = text
                if let index = tags.firstIndex(where: { $0.key == value.key }) { tags[index].value = text } else {
                    tags.append(MLflowKeyValue(key: value.key, value: text))
                }
            default: continue
            }
        }
        var batches: [(params: [MLflowKeyValue], tags: [MLflowKeyValue])] = []
        var index = 0
        while index * maximumParamsPerBatch < params.count || index * maximumTagsPerBatch < tags.count {
            let someParams = params.dropFirst(index * maximumParamsPerBatch).prefix(maximumParamsPerBatch)
            let someTags = tags.dropFirst(index * maximumTagsPerBatch).prefix(maximumTagsPerBatch)
            batches.append((Array(someParams), Array(someTags)))
            index += 1
        }
        return (batches, sent)
    }
}

/// A metric value as `runs/log-batch` takes it.
public struct MLflowMetric: Codable, Hashable, Sendable {
    public var key: String
    public var value: Double
    /// Milliseconds since 1970.
    public var timestamp: Int64
    public var step: Int64

    public init(key: String, value: Double, timestamp: Int64, step: Int64) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }
}

/// A param or tag as MLflow's REST API takes it.
public struct MLflowKeyValue: Codable, Hashable, Sendable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
