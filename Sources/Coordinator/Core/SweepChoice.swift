import Protocol
import Spec

/// Picks a sweep's best trial once every trial has ended. Pure.
///
/// A candidate is a trial that completed (ran or was reused) and whose objective metric has a
/// finite value: the last value it reported. Trials
/// that failed, timed out or were stopped early are not candidates. Ties go to the earliest trial
/// in sampling order, so the choice never depends on timing.
public enum SweepChoice {
    /// One trial's outcome.
    public struct Trial: Sendable, Hashable {
        public var step: String
        public var status: StepStatus
        /// The objective metric's latest value, when the trial reported one.
        public var value: Double?

        public init(step: String, status: StepStatus, value: Double?) {
            self.step = step
            self.status = status
            self.value = value
        }
    }

    /// What the sweep step records.
    public enum Outcome: Sendable, Hashable {
        /// `step` is best, with `value`; `summary` says so and counts the others.
        case best(step: String, value: Double, summary: String)
        /// No trial can be chosen; `reason` says why.
        case none(reason: String)
    }

    public static func choose(_ trials: [Trial], objective: SweepObjective) -> Outcome {
        var best: Trial?
        for trial in trials where trial.status == .completed {
            guard let value = trial.value, value.isFinite else { continue }
            if let current = best, let currentValue = current.value, !objective.isBetter(value, than: currentValue) { continue }
            best = trial
        }
        let completed = trials.filter { $0.status == .completed }.count
        let stopped = trials.filter { $0.status == .canceled }.count
        let failed = trials.filter { $0.status == .failed || $0.status == .timedOut }.count
        var counts = ["\(completed) of \(trials.count) trials completed"]
        if stopped > 0 { counts.append("\(stopped) stopped early") }
        if failed > 0 { counts.append("\(failed) failed") }
        guard let best, let value = best.value else {
            let reason: String
            if completed == 0 {
                reason = "no trial completed (\(counts.joined(separator: ", ")))"
            } else {
                reason = "no completed trial reported the metric \(objective.primaryMetric) (\(counts.joined(separator: ", "))); log it with mlflow.log_metric(\"\(objective.primaryMetric)\", value)"
            }
            return .none(reason: reason)
        }
        let name = best.step.split(separator: "/").last.map(String.init) ?? best.step
        let summary = "best: \(name) with \(objective.primaryMetric) \(value) (\(objective.goal.rawValue)); " + counts.joined(separator: ", ")
        return .best(step: best.step, value: value, summary: summary)
    }
}
