import Protocol

/// Compares two runs step by step: which steps only one has, and for each shared step what
/// differs in its cache manifest (parameters, code files, environment, input contents,
/// command), whether it ran or was reused, whether its outputs are the same, and its metrics.
///
/// Pure: the shell reads the runs' step records and hands them in.
public enum RunDiff {
    /// What a run recorded of one step.
    public struct StepFacts: Sendable, Hashable {
        public var name: String
        public var status: StepStatus
        public var reused: Bool
        public var sourceRun: String?
        /// Nil when the step never became ready (so it has no manifest).
        public var manifest: CacheManifest?
        /// Output name → artifact digest; nil when none were recorded.
        public var outputs: [String: String]?
        public var metrics: [String: Double]

        public init(
            name: String, status: StepStatus, reused: Bool, sourceRun: String? = nil, manifest: CacheManifest? = nil,
            outputs: [String: String]? = nil, metrics: [String: Double] = [:]
        ) {
            self.name = name
            self.status = status
            self.reused = reused
            self.sourceRun = sourceRun
            self.manifest = manifest
            self.outputs = outputs
            self.metrics = metrics
        }
    }

    /// How run `b` (its steps in plan order) differs from run `a`.
    public static func compare(a: String, steps stepsA: [StepFacts], b: String, steps stepsB: [StepFacts]) -> RunDiffReport {
        let byNameA = Dictionary(stepsA.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let namesB = Set(stepsB.map(\.name))
        let added = stepsB.map(\.name).filter { byNameA[$0] == nil }
        let removed = stepsA.map(\.name).filter { !namesB.contains($0) }
        var diffs: [StepDiff] = []
        for stepB in stepsB {
            guard let stepA = byNameA[stepB.name] else { continue }
            let differences: [String]
            switch (stepA.manifest, stepB.manifest) {
            case let (manifestA?, manifestB?): differences = manifestB.differences(from: manifestA)
            case (nil, nil): differences = []
            case (nil, _?): differences = ["not comparable: in \(a) the step never became ready (\(stepA.status.rawValue))"]
            case (_?, nil): differences = ["not comparable: in \(b) the step never became ready (\(stepB.status.rawValue))"]
            }
            var sameOutputs: Bool?
            if let outputsA = stepA.outputs, let outputsB = stepB.outputs { sameOutputs = outputsA == outputsB }
            let metricNames = Set(stepA.metrics.keys).union(stepB.metrics.keys).sorted()
            diffs.append(StepDiff(
                step: stepB.name,
                a: StepDiffSide(status: stepA.status, reused: stepA.reused, sourceRun: stepA.sourceRun),
                b: StepDiffSide(status: stepB.status, reused: stepB.reused, sourceRun: stepB.sourceRun),
                differences: differences, sameOutputs: sameOutputs,
                metrics: metricNames.map { MetricDelta(name: $0, a: stepA.metrics[$0], b: stepB.metrics[$0]) }
            ))
        }
        return RunDiffReport(a: a, b: b, added: added, removed: removed, steps: diffs)
    }
}
