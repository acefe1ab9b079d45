import Foundation
import Protocol
import Spec
import Store

/// Sweep steps: choosing the best trial, and stopping trials early.
extension CoordinatorService {
    /// Completes a ready sweep step: its outputs are those of the best completed trial (see
    /// `SweepChoice`); with no trial to choose, the sweep step fails and says why.
    func selectBest(runID: String, step: String) -> RunMachine.Event {
        guard let planned = runs[runID]?.planned[step], let sweep = planned.sweep, var record = runs[runID]?.steps[step] else {
            return .failed(step: step, status: .failed, reason: "the sweep step is not part of the run")
        }
        var trials: [SweepChoice.Trial] = []
        var metricsByTrial: [String: [String: Double]] = [:]
        for trial in sweep.trials {
            let status = runs[runID]?.machine.states[trial.step]?.status ?? .failed
            let metrics = trialMetrics(runID: runID, step: trial.step)
            metricsByTrial[trial.step] = metrics
            trials.append(SweepChoice.Trial(step: trial.step, status: status, value: metrics[sweep.objective.primaryMetric]))
        }
        let now = wallNow()
        switch SweepChoice.choose(trials, objective: sweep.objective) {
        case .none(let reason):
            return .failed(step: step, status: .failed, reason: reason)
        case .best(let best, _, let summary):
            let outputs = runs[runID]?.machine.states[best]?.outputs ?? [:]
            record.outputsJSON = CanonicalJSON.object(outputs)
            record.reason = summary
            if let metrics = metricsByTrial[best] {
                record.metricsJSON = String(decoding: (try? JSONEncoder().encode(metrics)) ?? Data("{}".utf8), as: UTF8.self)
            }
            record.finishedAt = now
            runs[runID]!.steps[step] = record
            batch.update(record)
            batch.append(EventRecord(runID: runID, step: step, kind: "sweep_selected", detail: summary, at: now))
            if planned.outputs.contains(where: { $0.path != nil }) {
                exportToDatastores(runID: runID, step: step, outputs: outputs)
            }
            registerOutputs(runID: runID, step: step, outputs: outputs)
            return .selected(step: step, outputs: outputs)
        }
    }

    /// A trial's latest metric values: its own, or for a reused trial those of the attempt that
    /// produced the result it reused.
    func trialMetrics(runID: String, step: String) -> [String: Double] {
        guard let record = runs[runID]?.steps[step] else { return [:] }
        var json = record.metricsJSON
        if json == nil, record.reused, let source = record.sourceAttempt,
           let attempt = try? store.attempt(id: source), let producer = try? store.step(runID: attempt.runID, name: attempt.step) {
            json = producer.metricsJSON
        }
        return json.flatMap { try? JSONDecoder().decode([String: Double].self, from: Data($0.utf8)) } ?? [:]
    }

    /// After a trial reported values of its sweep's objective metric: applies the sweep's early
    /// termination policy (see `EarlyTermination`) and stops the trial when it lags.
    func evaluateEarlyTermination(runID: String, step: String, attemptID: String, firstPoint: Int, points: [MetricPoint]) {
        guard let planned = runs[runID]?.planned[step], let sweepName = planned.trialOf,
              let sweep = runs[runID]?.planned[sweepName]?.sweep, let policy = sweep.earlyTermination else { return }
        let metric = sweep.objective.primaryMetric
        let values = points.enumerated().filter { $0.element.key == metric && $0.element.value.isFinite }
        guard !values.isEmpty else { return }
        if runs[runID]!.sweepSeries[sweepName] == nil {
            // First values of this sweep since the coordinator started: what the run's trials
            // reported before is in the store (so a restart keeps the policy's view).
            var series: [String: TrialSeries] = [:]
            for trial in sweep.trials {
                let recorded = ((try? store.metricPoints(runID: runID, step: trial.step)) ?? []).filter { $0.key == metric }
                guard let latest = recorded.last?.attemptID else { continue }
                var values: [Int: Double] = [:]
                for point in recorded where point.attemptID == latest { values[point.point] = point.value }
                series[trial.step] = TrialSeries(attempt: latest, values: values)
            }
            runs[runID]!.sweepSeries[sweepName] = series
        }
        for (offset, point) in values {
            // Keyed by attempt and point number: a message sent twice counts once, and a retry
            // starts its trial's series again.
            var series = runs[runID]!.sweepSeries[sweepName]![step] ?? TrialSeries(attempt: attemptID, values: [:])
            if series.attempt != attemptID { series = TrialSeries(attempt: attemptID, values: [:]) }
            guard series.values.updateValue(point.value, forKey: firstPoint + offset) == nil else { continue }
            runs[runID]!.sweepSeries[sweepName]![step] = series
            guard runs[runID]?.machine.states[step]?.status == .running else { return }
            let all = runs[runID]!.sweepSeries[sweepName]!.mapValues(\.ordered)
            if let reason = EarlyTermination.decide(trial: step, series: all, policy: policy, objective: sweep.objective) {
                logger.info("\(reason)", metadata: ["run": "\(runID)", "step": "\(step)"])
                batch.append(EventRecord(runID: runID, step: step, kind: "stopped_early", detail: reason, at: wallNow()))
                apply(.stopTrial(step: step, reason: reason), runID: runID)
                flushOutbox()
                return
            }
        }
    }

    /// Stops the trials of a sweep whose `limits.timeout` has passed since its first trial started;
    /// the sweep step then chooses among the trials that completed.
    func expireSweeps(now: Int64) {
        for runID in runs.keys.sorted() {
            if runs[runID]!.timedSweeps == nil {
                runs[runID]!.timedSweeps = runs[runID]!.plan.steps.filter { $0.sweep?.limits.timeoutSeconds != nil }.map(\.name)
            }
            for sweepName in runs[runID]!.timedSweeps ?? [] {
                guard let run = runs[runID], run.machine.states[sweepName]?.status == .waiting,
                      let sweep = run.planned[sweepName]?.sweep, let timeout = sweep.limits.timeoutSeconds else { continue }
                let started = sweep.trials.compactMap { run.steps[$0.step]?.startedAt }.min()
                guard let started, now - started >= Int64(min(timeout, SweepLimits.maximumSeconds)) * 1000 else { continue }
                let reason = "stopped: the sweep's limits.timeout of \(timeout) s passed"
                for trial in sweep.trials where runs[runID]?.machine.states[trial.step]?.status.isFinal == false {
                    apply(.stopTrial(step: trial.step, reason: reason), runID: runID)
                }
                batch.append(EventRecord(runID: runID, step: sweepName, kind: "sweep_timeout", detail: reason, at: now))
            }
        }
    }

    // MARK: Bayesian sweeps

    var sweepOptimizer: SweepOptimizer { SweepOptimizer(dataDirectory: configuration.dataDirectory) }

    /// Refuses a plan with a bayesian sweep when the optimiser cannot run here, with the line that
    /// fixes it. Checked once (the first such submission waits for Python to start).
    func checkOptimizer(for plan: PipelinePlan) throws {
        let bayesian = plan.steps.first { step in
            if case .bayesian = step.sweep?.sampling { return true }
            return false
        }
        guard let bayesian else { return }
        switch optimizerProblem {
        case .some(.none):
            return  // known to work
        case .some(.some(let problem)):
            // Missing at the last check: checked again off the actor, so that installing Optuna
            // is noticed by a later submission without a restart.
            if !optimizerRecheck {
                optimizerRecheck = true
                let optimizer = sweepOptimizer
                background.continuation.yield { [weak self] in
                    let problem = await optimizer.checkOffThread()
                    await self?.optimizerChecked(problem)
                }
            }
            throw CoordinatorError(.invalidRequest, "sweep step \(bayesian.name): \(problem)")
        case .none:
            // The first bayesian sweep: checked here, once (Python starts in about a second).
            let problem = sweepOptimizer.check()
            optimizerProblem = .some(problem)
            if let problem { throw CoordinatorError(.invalidRequest, "sweep step \(bayesian.name): \(problem)") }
        }
    }

    func optimizerChecked(_ problem: String?) {
        optimizerProblem = .some(problem)
        optimizerRecheck = false
    }

    /// Whether `step` is a bayesian trial whose point is not chosen yet.
    func needsPoint(runID: String, step: String) -> Bool {
        guard let run = runs[runID], let planned = run.planned[step], let sweepName = planned.trialOf,
              run.sweepPoints[step] == nil, case .bayesian? = run.planned[sweepName]?.sweep?.sampling else { return false }
        return true
    }

    /// Gives bayesian trial `step` its point: the one it already had (a coordinator restart), or
    /// one the optimiser proposes from the sweep's results so far. Returns the cache decision when
    /// it is known at once; nil while the optimiser works (it answers through `pointChosen`).
    func choosePoint(runID: String, step: String, inputs: [String: String]) -> RunMachine.Event? {
        guard let run = runs[runID], let sweepName = run.planned[step]?.trialOf, let sweep = run.planned[sweepName]?.sweep else {
            return .failed(step: step, status: .failed, reason: "the trial's sweep is not part of the run")
        }
        let names = Set(sweep.space.map(\.name))
        if let known = recordedPoint(runID: runID, step: step, names: names) {
            return pointChosen(runID: runID, step: step, inputs: inputs, point: .success(known))
        }
        var completed: [SweepOptimizer.Request.Completed] = []
        var pending: [[String: String]] = []
        for trial in sweep.trials where trial.step != step {
            guard let point = runs[runID]!.sweepPoints[trial.step] ?? recordedPoint(runID: runID, step: trial.step, names: names) else { continue }
            switch run.machine.states[trial.step]?.status {
            case .completed?:
                if let value = trialMetrics(runID: runID, step: trial.step)[sweep.objective.primaryMetric], value.isFinite {
                    completed.append(.init(point: point, value: value))
                }
            case .queued?, .running?:
                pending.append(point)
            default:
                break
            }
        }
        guard case .bayesian(let seed) = sweep.sampling else { return nil }
        let index = sweep.trials.firstIndex { $0.step == step } ?? 0
        let request = SweepOptimizer.Request(
            space: sweep.space, goal: sweep.objective.goal.rawValue, seed: seed, trial: index, completed: completed, pending: pending
        )
        let optimizer = sweepOptimizer
        background.continuation.yield { [weak self] in
            let result: Result<[String: String], any Error>
            do {
                result = .success(try await optimizer.propose(request))
            } catch {
                result = .failure(error)
            }
            await self?.proposalArrived(runID: runID, step: step, inputs: inputs, point: result)
        }
        return nil
    }

    /// The optimiser answered for `step`: its decision goes to the run machine.
    func proposalArrived(runID: String, step: String, inputs: [String: String], point: Result<[String: String], any Error>) {
        guard runs[runID]?.machine.states[step]?.resolving == true else { return }  // canceled meanwhile
        guard let event = pointChosen(runID: runID, step: step, inputs: inputs, point: point) else { return }
        apply(event, runID: runID)
        flushOutbox()
    }

    /// Sets bayesian trial `step` to `point` (its parameters and command) and decides from the cache.
    func pointChosen(runID: String, step: String, inputs: [String: String], point: Result<[String: String], any Error>) -> RunMachine.Event? {
        guard let planned = runs[runID]?.planned[step], let sweepName = planned.trialOf,
              let shape = runs[runID]?.planned[sweepName]?.sweep?.trialCommand else { return nil }
        do {
            let chosen = try point.get()
            runs[runID]!.planned[step] = try planned.withSweepPoint(chosen, shape: shape)
            runs[runID]!.sweepPoints[step] = chosen
            logger.info("bayesian point chosen", metadata: ["run": "\(runID)", "step": "\(step)", "point": "\(chosen.sorted { $0.key < $1.key })"])
        } catch {
            return .failed(step: step, status: .failed, reason: "no point to try: \(error)")
        }
        if hasUnreadDatastoreInputs(runID: runID, step: step, inputs: inputs) {
            // Read off the actor; the machine hears back through `inputsRead`, then asks the cache.
            readDatastoreInputs(runID: runID, step: step)
            return nil
        }
        let event = resolveCache(runID: runID, step: step, inputs: inputs)
        if case .cacheResolved(_, let hit) = event { (hit == nil ? telemetry.cacheMisses : telemetry.cacheHits).increment() }
        return event
    }

    /// The point a trial's recorded manifest names (after a coordinator restart), if it has one.
    func recordedPoint(runID: String, step: String, names: Set<String>) -> [String: String]? {
        runs[runID]?.steps[step].flatMap { Self.recordedPoint(of: $0, names: names) }
    }

    static func recordedPoint(of record: StepRecord, names: Set<String>) -> [String: String]? {
        guard let json = record.manifestJSON, let manifest = CacheManifest.decode(json: json) else { return nil }
        let point = manifest.parameters.filter { names.contains($0.key) }
        return point.count == names.count ? point : nil
    }

    /// Gives each bayesian trial of a restored run that had its point chosen that point again (its
    /// parameters and command), so that a retry or a re-queued attempt runs what its cache key says.
    static func restorePoints(of run: inout ActiveRun) {
        for step in run.plan.steps {
            guard let sweep = step.sweep, case .bayesian = sweep.sampling, let shape = sweep.trialCommand else { continue }
            let names = Set(sweep.space.map(\.name))
            for trial in sweep.trials {
                guard let record = run.steps[trial.step], let point = recordedPoint(of: record, names: names),
                      let planned = run.planned[trial.step], let chosen = try? planned.withSweepPoint(point, shape: shape) else { continue }
                run.planned[trial.step] = chosen
                run.sweepPoints[trial.step] = point
            }
        }
    }

    /// What is out of range in a sweep's limits or policy (a plan may come from any HTTP client).
    static func problem(with sweep: SweepSelection) -> String? {
        let limits = sweep.limits
        let maximum = SweepLimits.maximumSeconds
        if !(1...1000).contains(limits.maxTotalTrials) { return "limits.max_total_trials must be between 1 and 1000" }
        if sweep.trials.count > limits.maxTotalTrials { return "it lists more trials than limits.max_total_trials" }
        if let value = limits.maxConcurrentTrials, value < 1 { return "limits.max_concurrent_trials must be at least 1" }
        if let value = limits.timeoutSeconds, !(1...maximum).contains(value) { return "limits.timeout must be between 1 and \(maximum) seconds" }
        if let value = limits.trialTimeoutSeconds, !(1...maximum).contains(value) { return "limits.trial_timeout must be between 1 and \(maximum) seconds" }
        if sweep.objective.primaryMetric.isEmpty { return "objective.primary_metric is empty" }
        guard let policy = sweep.earlyTermination else { return nil }
        if policy.evaluationInterval < 1 { return "early_termination.evaluation_interval must be at least 1" }
        if policy.delayEvaluation < 0 { return "early_termination.delay_evaluation must be 0 or more" }
        switch policy.rule {
        case .bandit(let factor, let amount):
            let values = [factor, amount].compactMap { $0 }
            if values.count != 1 || !values[0].isFinite || values[0] < 0 {
                return "a bandit policy needs exactly one of slack_factor and slack_amount, a number of 0 or more"
            }
        case .medianStopping:
            break
        case .truncationSelection(let percentage):
            if !(1...99).contains(percentage) { return "early_termination.truncation_percentage must be between 1 and 99" }
        }
        return nil
    }

    /// Checks a plan's sweeps, since a plan may come from any HTTP client: each trial names a sweep
    /// step later in the plan that lists it, and each sweep step's trials are its own.
    static func checkSweeps(of plan: PipelinePlan) throws {
        var position: [String: Int] = [:]
        for (index, step) in plan.steps.enumerated() { position[step.name] = index }
        for (index, step) in plan.steps.enumerated() {
            if let sweepName = step.trialOf {
                guard let sweepIndex = position[sweepName], sweepIndex > index,
                      plan.steps[sweepIndex].sweep?.trials.contains(where: { $0.step == step.name }) == true else {
                    throw CoordinatorError(.invalidRequest, "step \(step.name) is a trial of \(sweepName), which is not a later sweep step that lists it")
                }
                guard step.sweep == nil else {
                    throw CoordinatorError(.invalidRequest, "step \(step.name) is both a trial and a sweep step")
                }
            }
            if let sweep = step.sweep {
                guard !sweep.trials.isEmpty else { throw CoordinatorError(.invalidRequest, "sweep step \(step.name) has no trials") }
                if let problem = Self.problem(with: sweep) {
                    throw CoordinatorError(.invalidRequest, "sweep step \(step.name): \(problem)")
                }
                for trial in sweep.trials {
                    guard let trialIndex = position[trial.step], plan.steps[trialIndex].trialOf == step.name else {
                        throw CoordinatorError(.invalidRequest, "sweep step \(step.name) lists \(trial.step), which is not one of its trials")
                    }
                }
                for input in step.inputs {
                    guard case .stepOutput(let producer, _) = input.source, plan.steps[position[producer] ?? 0].trialOf == step.name else {
                        throw CoordinatorError(.invalidRequest, "sweep step \(step.name) input \(input.name) must read an output of one of its trials")
                    }
                }
            }
        }
    }
}
