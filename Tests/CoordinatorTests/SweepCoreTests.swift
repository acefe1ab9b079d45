@testable import Coordinator
import Protocol
import Spec
import TestKit
import Testing

/// prep → tune/trial_0..N-1 → tune → report: a sweep between two ordinary steps.
func sweepNodes(trials: Int, limit: Int?) -> [RunMachine.Node] {
    var nodes: [RunMachine.Node] = [.init(name: "prep", upstreamInputs: [:], fixedInputs: ["raw": "d-raw"])]
    var sweepInputs: [String: RunMachine.StepOutputReference] = [:]
    for index in 0..<trials {
        let name = "tune/trial_\(index)"
        nodes.append(.init(name: name, upstreamInputs: ["data": .init(step: "prep", output: "clean")], fixedInputs: [:], trialOf: "tune"))
        sweepInputs["trial_\(index).model"] = .init(step: name, output: "model")
    }
    nodes.append(.init(name: "tune", upstreamInputs: sweepInputs, fixedInputs: [:], sweep: .init(maxConcurrentTrials: limit)))
    nodes.append(.init(name: "report", upstreamInputs: ["model": .init(step: "tune", output: "model")], fixedInputs: [:]))
    return nodes
}

@Suite struct SweepRunMachineTests {
    func queuedTrials(_ machine: RunMachine) -> [String] {
        machine.nodes.map(\.name).filter { $0.hasPrefix("tune/") && (machine.states[$0]?.status == .queued || machine.states[$0]?.status == .running) }
    }

    @Test func maxConcurrentTrialsHoldsTheRestUntilATrialEnds() {
        var machine = RunMachine(nodes: sweepNodes(trials: 4, limit: 2), continueOnStepFailure: false)
        _ = machine.on(.start)
        let ready = machine.on(.cacheResolved(step: "prep", hit: ["clean": "c"]))
        #expect(ready == [
            .resolveCache(step: "tune/trial_0", inputs: ["data": "c"]), .resolveCache(step: "tune/trial_1", inputs: ["data": "c"]),
        ])
        #expect(machine.states["tune/trial_2"]?.status == .waiting)
        _ = machine.on(.cacheResolved(step: "tune/trial_0", hit: nil))
        // A reused trial frees its slot at once.
        #expect(machine.on(.cacheResolved(step: "tune/trial_1", hit: ["model": "m1"])) == [.resolveCache(step: "tune/trial_2", inputs: ["data": "c"])])
        _ = machine.on(.cacheResolved(step: "tune/trial_2", hit: nil))
        #expect(queuedTrials(machine) == ["tune/trial_0", "tune/trial_2"])
        // A failed trial does not fail the run; it frees its slot.
        let afterFailure = machine.on(.failed(step: "tune/trial_0", status: .failed, reason: "exit code 1"))
        #expect(afterFailure == [.resolveCache(step: "tune/trial_3", inputs: ["data": "c"])])
        #expect(machine.status == .running)
        _ = machine.on(.cacheResolved(step: "tune/trial_3", hit: nil))
        _ = machine.on(.succeeded(step: "tune/trial_2", outputs: ["model": "m2"]))
        #expect(machine.states["tune"]?.status == .waiting)
        // The last trial ends: the sweep step is ready, with the outputs of the trials that completed.
        let sweepReady = machine.on(.stopTrial(step: "tune/trial_3", reason: "stopped early"))
        #expect(sweepReady == [
            .stop(step: "tune/trial_3", reason: "stopped early"),
            .resolveCache(step: "tune", inputs: ["trial_0.model": "", "trial_1.model": "m1", "trial_2.model": "m2", "trial_3.model": ""]),
        ])
        #expect(machine.states["tune/trial_3"]?.status == .canceled)
        #expect(machine.on(.selected(step: "tune", outputs: ["model": "m2"])) == [.resolveCache(step: "report", inputs: ["model": "m2"])])
        #expect(machine.on(.cacheResolved(step: "report", hit: ["text": "t"])) == [.finished(.completed, reason: nil)])
    }

    @Test func aSweepWhoseTrialsHaveNoOutputsWaitsForThem() {
        // Trials that only log metrics: the sweep step reads nothing, yet waits for every trial.
        let nodes: [RunMachine.Node] = [
            .init(name: "tune/trial_0", upstreamInputs: [:], fixedInputs: [:], trialOf: "tune"),
            .init(name: "tune/trial_1", upstreamInputs: [:], fixedInputs: [:], trialOf: "tune"),
            .init(name: "tune", upstreamInputs: [:], fixedInputs: [:], sweep: .init(maxConcurrentTrials: nil)),
        ]
        var machine = RunMachine(nodes: nodes, continueOnStepFailure: false)
        #expect(machine.on(.start) == [.resolveCache(step: "tune/trial_0", inputs: [:]), .resolveCache(step: "tune/trial_1", inputs: [:])])
        _ = machine.on(.cacheResolved(step: "tune/trial_0", hit: nil))
        _ = machine.on(.cacheResolved(step: "tune/trial_1", hit: nil))
        #expect(machine.on(.succeeded(step: "tune/trial_0", outputs: [:])) == [])
        #expect(machine.on(.succeeded(step: "tune/trial_1", outputs: [:])) == [.resolveCache(step: "tune", inputs: [:])])
        var restored = RunMachine(nodes: nodes, continueOnStepFailure: false, restoring: ["tune/trial_0": .init(status: .completed)])
        #expect(restored.resume(holding: []) == [.resolveCache(step: "tune/trial_1", inputs: [:])])
    }

    @Test func anUpstreamFailureSkipsTheTrialsAndTheSweep() {
        let nodes: [RunMachine.Node] = [
            .init(name: "prep", upstreamInputs: [:], fixedInputs: [:]),
            .init(name: "tune/trial_0", upstreamInputs: ["d": .init(step: "prep", output: "o")], fixedInputs: [:], trialOf: "tune"),
            .init(name: "tune", upstreamInputs: [:], fixedInputs: [:], sweep: .init(maxConcurrentTrials: nil)),
        ]
        var machine = RunMachine(nodes: nodes, continueOnStepFailure: true)
        _ = machine.on(.start)
        _ = machine.on(.cacheResolved(step: "prep", hit: nil))
        let end = machine.on(.failed(step: "prep", status: .failed, reason: "exit 1"))
        #expect(machine.states["tune"]?.status == .skipped)
        #expect(end.last == .finished(.failed, reason: "step prep failed: exit 1"))
    }

    @Test func aSweepWithNoTrialToChooseFailsTheRun() {
        var machine = RunMachine(nodes: sweepNodes(trials: 2, limit: nil), continueOnStepFailure: false)
        _ = machine.on(.start)
        _ = machine.on(.cacheResolved(step: "prep", hit: ["clean": "c"]))
        _ = machine.on(.cacheResolved(step: "tune/trial_0", hit: nil))
        _ = machine.on(.cacheResolved(step: "tune/trial_1", hit: nil))
        _ = machine.on(.failed(step: "tune/trial_0", status: .failed, reason: "exit code 1"))
        let ready = machine.on(.failed(step: "tune/trial_1", status: .timedOut, reason: "timed out"))
        #expect(ready.count == 1)
        let end = machine.on(.failed(step: "tune", status: .failed, reason: "no trial completed"))
        #expect(end.last == .finished(.failed, reason: "step tune failed: no trial completed"))
        #expect(machine.states["report"]?.status == .canceled)
    }

    @Test func selectedAndStopTrialApplyOnlyToSweepsAndTrials() {
        var machine = RunMachine(nodes: sweepNodes(trials: 1, limit: nil), continueOnStepFailure: false)
        _ = machine.on(.start)
        #expect(machine.on(.selected(step: "prep", outputs: ["clean": "x"])) == [])
        #expect(machine.states["prep"]?.status == .queued)
        #expect(machine.on(.stopTrial(step: "prep", reason: "no")) == [])
        #expect(machine.on(.selected(step: "tune", outputs: ["model": "x"])) == [], "not ready: its trial has not ended")
    }

    @Test func aRestoredSweepWaitsForTrialsToEndAndKeepsTheLimit() {
        let nodes = sweepNodes(trials: 3, limit: 1)
        var machine = RunMachine(nodes: nodes, continueOnStepFailure: false, restoring: [
            "prep": .init(status: .completed, outputs: ["clean": "c"]),
            "tune/trial_0": .init(status: .failed, reason: "exit code 1"),
            "tune/trial_1": .init(status: .running),
        ])
        #expect(machine.reason == nil, "a failed trial is not the run's failure")
        // trial_1 is still held by its worker; trial_2 waits for the slot.
        #expect(machine.resume(holding: ["tune/trial_1"]) == [])
        #expect(machine.on(.succeeded(step: "tune/trial_1", outputs: ["model": "m"])) == [.resolveCache(step: "tune/trial_2", inputs: ["data": "c"])])
        _ = machine.on(.cacheResolved(step: "tune/trial_2", hit: nil))
        let ready = machine.on(.succeeded(step: "tune/trial_2", outputs: ["model": "n"]))
        #expect(ready == [.resolveCache(step: "tune", inputs: ["trial_0.model": "", "trial_1.model": "m", "trial_2.model": "n"])])
    }

    /// Random interleavings: the limit always holds, the sweep step becomes ready exactly when every
    /// trial has ended, and the run ends.
    @Test(arguments: 0..<200) func theLimitHoldsInEveryInterleaving(seed: Int) {
        var random = SeededGenerator(seed: UInt64(seed) &+ 11)
        let trials = Int.random(in: 1...6, using: &random)
        let limit = Int.random(in: 0...3, using: &random)
        var machine = RunMachine(nodes: sweepNodes(trials: trials, limit: limit == 0 ? nil : limit), continueOnStepFailure: Bool.random(using: &random))
        var pending = machine.on(.start)
        var sweepReadyCount = 0
        for _ in 0..<200 {
            guard machine.status == .running || machine.status == .queued else { break }
            // Carry out one outstanding action, or make a trial report something.
            var events: [RunMachine.Event] = []
            if !pending.isEmpty, Bool.random(using: &random) || queuedTrials(machine).isEmpty {
                let action = pending.removeFirst()
                switch action {
                case .resolveCache(let step, _) where step == "tune":
                    sweepReadyCount += 1
                    let anyCompleted = machine.nodes.contains { $0.trialOf != nil && machine.states[$0.name]?.status == .completed }
                    events.append(anyCompleted ? .selected(step: step, outputs: ["model": "best"]) : .failed(step: step, status: .failed, reason: "none"))
                case .resolveCache(let step, _):
                    events.append(.cacheResolved(step: step, hit: Int.random(in: 0..<3, using: &random) == 0 ? ["clean": "c", "model": "m", "text": "t"] : nil))
                case .enqueue(let step, _):
                    events.append(.attemptStarted(step: step))
                default:
                    break
                }
            } else if let trial = queuedTrials(machine).randomElement(using: &random) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0: events.append(.failed(step: trial, status: .failed, reason: "exit 1"))
                case 1: events.append(.stopTrial(step: trial, reason: "lags"))
                default: events.append(.succeeded(step: trial, outputs: ["model": "m-\(trial)"]))
                }
            } else if let step = ["prep", "report"].first(where: { machine.states[$0]?.status == .running }) {
                events.append(.succeeded(step: step, outputs: ["clean": "c", "text": "t"]))
            }
            for event in events { pending += machine.on(event) }
            if limit > 0 { #expect(queuedTrials(machine).count <= limit, "seed \(seed)") }
            let trialsEnded = machine.nodes.filter { $0.trialOf != nil }.allSatisfy { machine.states[$0.name]?.status.isFinal == true }
            if machine.states["tune"]?.status == .queued { #expect(trialsEnded, "seed \(seed): the sweep is ready before its trials ended") }
        }
        #expect(machine.status.isFinal, "seed \(seed): the run did not end (\(machine.states))")
        #expect(sweepReadyCount <= 1)
        if machine.states["prep"]?.status == .completed { #expect(sweepReadyCount == 1, "seed \(seed)") }
    }
}

@Suite struct SweepChoiceTests {
    let objective = SweepObjective(goal: .maximize, primaryMetric: "accuracy")

    @Test func theBestCompletedTrialWinsAndTiesGoToTheEarliest() {
        let outcome = SweepChoice.choose([
            .init(step: "t/trial_0", status: .completed, value: 0.8),
            .init(step: "t/trial_1", status: .canceled, value: 0.99),
            .init(step: "t/trial_2", status: .completed, value: 0.9),
            .init(step: "t/trial_3", status: .completed, value: 0.9),
            .init(step: "t/trial_4", status: .failed, value: nil),
            .init(step: "t/trial_5", status: .completed, value: .nan),
        ], objective: objective)
        guard case .best(let step, let value, let summary) = outcome else { Issue.record("\(outcome)"); return }
        #expect(step == "t/trial_2" && value == 0.9)
        #expect(summary == "best: trial_2 with accuracy 0.9 (maximize); 4 of 6 trials completed, 1 stopped early, 1 failed")
        let minimized = SweepChoice.choose([
            .init(step: "a", status: .completed, value: 0.8), .init(step: "b", status: .completed, value: 0.2),
        ], objective: SweepObjective(goal: .minimize, primaryMetric: "loss"))
        #expect({ if case .best("b", 0.2, _) = minimized { true } else { false } }())
    }

    @Test func noCandidateSaysWhy() {
        let none = SweepChoice.choose([.init(step: "a", status: .failed, value: nil)], objective: objective)
        #expect(none == .none(reason: "no trial completed (0 of 1 trials completed, 1 failed)"))
        let unreported = SweepChoice.choose([.init(step: "a", status: .completed, value: nil)], objective: objective)
        guard case .none(let reason) = unreported else { Issue.record("\(unreported)"); return }
        #expect(reason.contains("no completed trial reported the metric accuracy") && reason.contains("mlflow.log_metric"))
    }
}

@Suite struct EarlyTerminationTests {
    let maximize = SweepObjective(goal: .maximize, primaryMetric: "accuracy")
    let minimize = SweepObjective(goal: .minimize, primaryMetric: "loss")

    @Test func banditStopsOutsideTheSlack() {
        let policy = EarlyTerminationPolicy(rule: .bandit(slackFactor: 0.1, slackAmount: nil))
        // Best 0.88 at interval 1: the bound is 0.8.
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [0.88], "b": [0.81]], policy: policy, objective: maximize) == nil)
        let stopped = EarlyTermination.decide(trial: "b", series: ["a": [0.88], "b": [0.79]], policy: policy, objective: maximize)
        #expect(stopped?.contains("bandit policy at interval 1") == true)
        let amount = EarlyTerminationPolicy(rule: .bandit(slackFactor: nil, slackAmount: 0.2))
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [1.0], "b": [1.1]], policy: amount, objective: minimize) == nil)
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [1.0], "b": [1.3]], policy: amount, objective: minimize) != nil)
        // Compared at the same interval only; alone, never stopped.
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [0.9], "b": [0.1, 0.1]], policy: policy, objective: maximize) == nil)
        #expect(EarlyTermination.decide(trial: "b", series: ["b": [0.1]], policy: policy, objective: maximize) == nil)
    }

    @Test func banditNeverStopsTheBestWhenTheMetricIsNegative() {
        let policy = EarlyTerminationPolicy(rule: .bandit(slackFactor: 0.1, slackAmount: nil))
        // Maximizing a negated loss: best -0.5, bound -0.5 - 0.5 * 0.1 / 1.1 ≈ -0.545.
        #expect(EarlyTermination.decide(trial: "a", series: ["a": [-0.5], "b": [-0.9]], policy: policy, objective: maximize) == nil)
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [-0.5], "b": [-0.54]], policy: policy, objective: maximize) == nil)
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [-0.5], "b": [-0.6]], policy: policy, objective: maximize) != nil)
        // Minimizing below zero: best -2, bound -1.8.
        #expect(EarlyTermination.decide(trial: "a", series: ["a": [-2.0], "b": [-1.0]], policy: policy, objective: minimize) == nil)
        #expect(EarlyTermination.decide(trial: "b", series: ["a": [-2.0], "b": [-1.7]], policy: policy, objective: minimize) != nil)
    }

    @Test func delayAndIntervalChooseWhenToEvaluate() {
        let policy = EarlyTerminationPolicy(rule: .bandit(slackFactor: 0.1, slackAmount: nil), evaluationInterval: 2, delayEvaluation: 2)
        let best = [0.9, 0.9, 0.9, 0.9, 0.9]
        for (count, expected) in [(1, false), (2, false), (3, false), (4, true), (5, false)] {
            let series = ["a": best, "b": Array(repeating: 0.1, count: count)]
            #expect((EarlyTermination.decide(trial: "b", series: series, policy: policy, objective: maximize) != nil) == expected, "interval \(count)")
        }
    }

    @Test func medianStoppingComparesWithRunningAverages() {
        let policy = EarlyTerminationPolicy(rule: .medianStopping)
        let others: [String: [Double]] = ["a": [0.5, 0.7], "b": [0.6, 0.8], "c": [0.2, 0.4]]
        // Running averages at 2: 0.6, 0.7, 0.3 → median 0.6.
        #expect(EarlyTermination.decide(trial: "d", series: others.merging(["d": [0.55, 0.58]]) { $1 }, policy: policy, objective: maximize) != nil)
        #expect(EarlyTermination.decide(trial: "d", series: others.merging(["d": [0.61, 0.1]]) { $1 }, policy: policy, objective: maximize) == nil)
    }

    @Test func truncationSelectionStopsTheWorstShare() {
        let policy = EarlyTerminationPolicy(rule: .truncationSelection(percentage: 50))
        let series: [String: [Double]] = ["a": [0.9], "b": [0.8], "c": [0.3], "d": [0.4]]
        #expect(EarlyTermination.decide(trial: "c", series: series, policy: policy, objective: maximize) != nil)
        #expect(EarlyTermination.decide(trial: "d", series: series, policy: policy, objective: maximize) != nil)
        #expect(EarlyTermination.decide(trial: "b", series: series, policy: policy, objective: maximize) == nil)
        // 25% of 3 trials rounds down to none.
        let quarter = EarlyTerminationPolicy(rule: .truncationSelection(percentage: 25))
        #expect(EarlyTermination.decide(trial: "c", series: ["a": [0.9], "b": [0.8], "c": [0.3]], policy: quarter, objective: maximize) == nil)
    }
}

/// A plan's sweeps come from any HTTP client: limits and policies out of range are refused.
@Suite struct SweepPlanCheckTests {
    func plan(_ change: (inout SweepSelection) -> Void) -> PipelinePlan {
        var trial = PlannedStep(name: "tune/trial_0", commandTemplate: "t", command: CommandTemplate(segments: [.text("true")]),
                                outputs: [StepDataOutput(name: "m", type: .uriFolder)])
        trial.trialOf = "tune"
        var sweep = PlannedStep(name: "tune", commandTemplate: "", command: CommandTemplate(segments: []),
                                inputs: [StepDataInput(name: "trial_0.m", type: .uriFolder, source: .stepOutput(step: "tune/trial_0", output: "m"))])
        var selection = SweepSelection(
            objective: SweepObjective(goal: .maximize, primaryMetric: "acc"), sampling: .grid,
            limits: SweepLimits(maxTotalTrials: 1), trials: [SweepTrial(step: "tune/trial_0", point: [:])]
        )
        change(&selection)
        sweep.sweep = selection
        return PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [trial, sweep], outputs: [])
    }

    func refusal(_ change: (inout SweepSelection) -> Void) -> String? {
        do {
            try CoordinatorService.checkSweeps(of: plan(change))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func outOfRangeLimitsAndPoliciesAreRefused() {
        #expect(refusal { _ in } == nil)
        #expect(refusal { $0.limits.timeoutSeconds = 10_000_000_000_000_000 }?.contains("limits.timeout") == true)
        #expect(refusal { $0.limits.trialTimeoutSeconds = 0 }?.contains("limits.trial_timeout") == true)
        #expect(refusal { $0.limits.maxConcurrentTrials = 0 }?.contains("max_concurrent_trials") == true)
        #expect(refusal { $0.limits.maxTotalTrials = 0 }?.contains("max_total_trials") == true)
        #expect(refusal { $0.earlyTermination = EarlyTerminationPolicy(rule: .medianStopping, evaluationInterval: 0) }?.contains("evaluation_interval") == true)
        #expect(refusal { $0.earlyTermination = EarlyTerminationPolicy(rule: .bandit(slackFactor: .nan, slackAmount: nil)) }?.contains("bandit") == true)
        #expect(refusal { $0.earlyTermination = EarlyTerminationPolicy(rule: .truncationSelection(percentage: 100)) }?.contains("truncation_percentage") == true)
        #expect(refusal { $0.trials.append(SweepTrial(step: "nope", point: [:])) } != nil)
    }
}
