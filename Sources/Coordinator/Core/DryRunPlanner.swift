import Protocol
import Spec

/// Predicts, without running or recording anything, which steps of a submission would run and
/// which would reuse a cached result, and why.
///
/// Walks the steps in plan order as the run machine would make them ready. A step whose inputs
/// are all known (fixed data, or outputs of upstream steps that are reused) gets its cache
/// manifest and key exactly as a run computes them (`CacheManifest(step:inputs:code:)`) and is
/// looked up. A step reading an output of an upstream step that runs cannot be decided: a
/// re-run may produce the same bytes (then the step is reused) or not; it is reported as
/// `depends`, with what is already known to differ.
///
/// Pure: the cache and the execution history come in through `CacheView`.
public struct DryRunPlanner: Sendable {
    /// What the planner may ask of the cache and the history of executions.
    public protocol CacheView {
        /// The cached result for `key`, if any.
        func lookup(key: String, step: PlannedStep) -> CacheLookup
        /// The earlier executions of `step` a new one may be compared with, latest first
        /// (at most `NearestExecution.candidateLimit`); `NearestExecution` picks the nearest.
        func earlierExecutions(of step: String) -> [NearestExecution.Candidate]
    }

    /// A cache lookup's answer.
    public enum CacheLookup: Sendable, Equatable {
        /// A complete result: its run and its outputs (name → artifact digest).
        case hit(run: String, outputs: [String: String])
        /// A recorded result whose artifacts are not all in the store.
        case notIntact(run: String, problem: String)
        case miss
    }

    public var plan: PipelinePlan
    /// Artifact digests of local data inputs, keyed by `"STEP\u{1F}INPUT"` (as in `SubmitRequest`).
    public var localInputs: [String: String]
    /// Code snapshots by step name.
    public var code: [String: CacheManifest.Code]
    /// Steps forced to run (`--force`).
    public var force: Set<String>
    /// What the datastore paths the inputs read hold now, keyed by `"STEP\u{1F}INPUT"`. A run reads
    /// them when each step becomes ready, so the prediction says so.
    public var datastoreReads: [String: DatastoreRead]

    /// A datastore input as it is now.
    public enum DatastoreRead: Sendable, Hashable {
        /// The path holds content with this digest: the prediction uses it, though a step of the run
        /// may change it before the reader runs.
        case present(digest: String)
        /// Nothing is there yet; these steps write it (their output's `path:` names it or a folder
        /// above it).
        case absent(writers: [String])
    }

    public init(
        plan: PipelinePlan, localInputs: [String: String], code: [String: CacheManifest.Code], force: Set<String>,
        datastoreReads: [String: DatastoreRead] = [:]
    ) {
        self.plan = plan
        self.localInputs = localInputs
        self.code = code
        self.force = force
        self.datastoreReads = datastoreReads
    }

    /// Every step's decision, in plan order.
    public func decide(using cache: some CacheView) -> DryRunReport {
        // Outputs (name → digest) of the steps that are reused; a step absent here runs.
        var reusedOutputs: [String: [String: String]] = [:]
        var result: [DryRunStep] = []
        // Bayesian trials' points are proposed at run time: nothing about them is known now.
        let bayesian = Set(plan.steps.compactMap { step -> String? in
            if case .bayesian? = step.sweep?.sampling { return step.name }
            return nil
        })
        for step in plan.steps {
            if let sweep = step.sweep {
                result.append(Self.sweepDecision(step, sweep, decided: result))
                continue
            }
            if let sweep = step.trialOf, bayesian.contains(sweep) {
                result.append(DryRunStep(
                    name: step.name, decision: "run",
                    reasons: ["a bayesian trial: its point is proposed when it becomes ready, and it is reused if that point ran before"]
                ))
                continue
            }
            var inputs: [String: String] = [:]
            var waitingOn: [String] = []
            var unknownInputs: Set<String> = []
            // Said of every decision: a datastore's content is read when the step is ready.
            var notes: [String] = []
            for input in step.inputs {
                switch input.source {
                case .stepOutput(let producer, let output):
                    if let outputs = reusedOutputs[producer], let digest = outputs[output] {
                        inputs[input.name] = digest
                    } else {
                        unknownInputs.insert(input.name)
                        if !waitingOn.contains(producer) { waitingOn.append(producer) }
                    }
                case .localPath:
                    inputs[input.name] = localInputs[step.name + "\u{1F}" + input.name] ?? ""
                case .uri(let uri):
                    guard input.datastoreURI != nil else {
                        inputs[input.name] = uri
                        continue
                    }
                    switch datastoreReads[step.name + "\u{1F}" + input.name] {
                    case .present(let digest):
                        inputs[input.name] = digest
                        notes.append("input \(input.name): \(uri) is read at run time; predicted from what it holds now")
                    case .absent(let writers):
                        unknownInputs.insert(input.name)
                        for writer in writers where writer != step.name && !waitingOn.contains(writer) { waitingOn.append(writer) }
                        notes.append("input \(input.name): \(uri) is read at run time; it does not exist yet")
                    case nil:
                        unknownInputs.insert(input.name)
                        notes.append("input \(input.name): \(uri) is read at run time")
                    }
                }
            }
            let manifest = CacheManifest(step: step, inputs: inputs, code: code[step.name])
            if let optOut = CacheManifest.reuseDisabledReason(for: step, settings: plan.settings, forced: force.contains(step.name)) {
                result.append(DryRunStep(
                    name: step.name, decision: "run", reasons: ["reuse disabled: \(optOut)"] + notes, sourceRun: nil,
                    cacheKey: unknownInputs.isEmpty ? manifest.key : nil
                ))
                continue
            }
            if !unknownInputs.isEmpty {
                // Compare what is known: the unknown inputs take the earlier execution's values.
                let nearest = NearestExecution.choose(
                    for: manifest, among: cache.earlierExecutions(of: step.name), unknownInputs: unknownInputs
                )
                result.append(DryRunStep(
                    name: step.name, decision: waitingOn.isEmpty ? "run" : "depends", reasons: (nearest?.differences ?? []) + notes,
                    sourceRun: nearest?.run, upstream: waitingOn
                ))
                continue
            }
            let key = manifest.key
            switch cache.lookup(key: key, step: step) {
            case .hit(let run, let outputs):
                reusedOutputs[step.name] = outputs
                result.append(DryRunStep(name: step.name, decision: "reuse", reasons: notes, sourceRun: run, cacheKey: key))
            case .notIntact(let run, let problem):
                result.append(DryRunStep(
                    name: step.name, decision: "run", reasons: ["the cached result from run \(run) is not intact (\(problem))"] + notes,
                    sourceRun: run, cacheKey: key
                ))
            case .miss:
                var reasons: [String]
                // Asked only for a miss: a history query per reused step would cost a big plan dearly.
                let nearest = NearestExecution.choose(for: manifest, among: cache.earlierExecutions(of: step.name))
                if let nearest {
                    reasons = nearest.differences
                    if reasons.isEmpty { reasons = ["nothing differs from run \(nearest.run), but its result is no longer cached"] }
                } else {
                    reasons = ["step \(step.name) never ran before"]
                }
                result.append(DryRunStep(name: step.name, decision: "run", reasons: reasons + notes, sourceRun: nearest?.run, cacheKey: key))
            }
        }
        return DryRunReport(pipeline: plan.name, steps: result)
    }

    /// A sweep step: how many trials would run and how many are already known. Which trial is best
    /// is known only from the trials' metrics, so steps that read the sweep's outputs `depend` on it.
    static func sweepDecision(_ step: PlannedStep, _ sweep: SweepSelection, decided: [DryRunStep]) -> DryRunStep {
        if case .bayesian = sweep.sampling {
            return DryRunStep(
                name: step.name, decision: "sweep",
                reasons: [
                    "\(sweep.trials.count) trials (\(sweep.sampling.description)): their points are proposed as they become ready, so which are already known shows when they run; the best by \(sweep.objective.primaryMetric) (\(sweep.objective.goal.rawValue)) is chosen when they end",
                ]
            )
        }
        let trials = Set(sweep.trials.map(\.step))
        let decisions = decided.filter { trials.contains($0.name) }
        let known = decisions.filter { $0.decision == "reuse" }.count
        let toRun = sweep.trials.count - known
        return DryRunStep(
            name: step.name, decision: "sweep",
            reasons: [
                "\(sweep.trials.count) trials (\(sweep.sampling.description)): \(known) already known, \(toRun) would run; the best by \(sweep.objective.primaryMetric) (\(sweep.objective.goal.rawValue)) is chosen when they end",
            ]
        )
    }
}
