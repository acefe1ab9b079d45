import Spec

/// Decides whether a running trial whose objective lags is stopped, by a sweep's
/// `early_termination` policy. Pure.
///
/// A trial's series is the values of the objective metric in the order it reported them; its
/// n-th value is interval n. When a trial reports its n-th value, it is evaluated at interval n if
/// `n > delay_evaluation` and `n` is a multiple of `evaluation_interval`, against the other trials
/// of the sweep that reached interval n (running or ended). A trial is never stopped when no other
/// trial reached that interval.
///
/// - bandit: stopped when its value at n is outside the slack of the best value at n
///   (maximize: `value < best / (1 + slack_factor)` or `value < best - slack_amount`; minimize:
///   `value > best * (1 + slack_factor)` or `value > best + slack_amount`). For a negative best the
///   factor applies to its size (`best - |best| * f / (1 + f)`, `best + |best| * f`), so a negated
///   loss behaves as a loss does; the best trial is never stopped.
/// - median_stopping: stopped when its best value up to n is worse than the median of the other
///   trials' running averages (the mean of their first n values).
/// - truncation_selection: the trials at interval n ranked by their value at n; stopped when it
///   is among the worst `truncation_percentage` per cent of them (rounded down).
public enum EarlyTermination {
    /// Why `trial` must stop now, or nil to let it go on.
    public static func decide(
        trial: String, series: [String: [Double]], policy: EarlyTerminationPolicy, objective: SweepObjective
    ) -> String? {
        guard let own = series[trial], !own.isEmpty else { return nil }
        let interval = own.count
        guard interval > policy.delayEvaluation, interval % max(1, policy.evaluationInterval) == 0 else { return nil }
        let others = series.filter { $0.key != trial && $0.value.count >= interval }
        guard !others.isEmpty else { return nil }
        let value = own[interval - 1]
        let metric = objective.primaryMetric
        let maximize = objective.goal == .maximize
        switch policy.rule {
        case .bandit(let factor, let amount):
            let values = others.values.map { $0[interval - 1] } + [value]
            let best = maximize ? values.max()! : values.min()!
            // The slack is measured from the best by its size, so a negative metric (a negated
            // loss) is treated as a positive one is: the best trial itself never lags.
            let slack = factor.map { abs(best) * (maximize ? $0 / (1 + $0) : $0) } ?? (amount ?? 0)
            let bound = maximize ? best - slack : best + slack
            let lags = maximize ? value < bound : value > bound
            guard lags, value != best else { return nil }
            let allowed = factor.map { "slack_factor \($0)" } ?? "slack_amount \(amount ?? 0)"
            return "stopped early by the bandit policy at interval \(interval): \(metric) \(value) is outside the \(allowed) of the best, \(best)"
        case .medianStopping:
            let averages = others.values.map { values in values.prefix(interval).reduce(0, +) / Double(interval) }.sorted()
            let middle = averages.count / 2
            let median = averages.count % 2 == 1 ? averages[middle] : (averages[middle - 1] + averages[middle]) / 2
            let bestSoFar = maximize ? own.max()! : own.min()!
            let worse = maximize ? bestSoFar < median : bestSoFar > median
            guard worse else { return nil }
            return "stopped early by the median_stopping policy at interval \(interval): its best \(metric), \(bestSoFar), is worse than the median of the other trials' running averages, \(median)"
        case .truncationSelection(let percentage):
            var ranked = others.map { ($0.key, $0.value[interval - 1]) } + [(trial, value)]
            // Worst first; ties keep the trial being evaluated last (it is not stopped for a tie).
            ranked.sort { lhs, rhs in
                if lhs.1 != rhs.1 { return maximize ? lhs.1 < rhs.1 : lhs.1 > rhs.1 }
                return lhs.0 != trial && rhs.0 == trial
            }
            let cut = ranked.count * percentage / 100
            guard cut > 0, ranked.prefix(cut).contains(where: { $0.0 == trial }) else { return nil }
            return "stopped early by the truncation_selection policy at interval \(interval): \(metric) \(value) is in the worst \(percentage)% of \(ranked.count) trials"
        }
    }
}
