// Types of the HTTP API's iteration routes: dry runs, re-runs, run diffs and step details.

/// `POST /v1/runs/dry-run`: what a submission would run and reuse; nothing is recorded.
public struct DryRunRequest: Codable, Sendable {
    /// The submission as `POST /v1/runs` would take it; its local data need not be uploaded.
    public var submission: SubmitRequest
    /// Canonical text of the code snapshots' tree manifests by digest, for the code the
    /// coordinator does not hold yet (a dry run uploads nothing).
    public var codeManifests: [String: String]

    public init(submission: SubmitRequest, codeManifests: [String: String] = [:]) {
        self.submission = submission
        self.codeManifests = codeManifests
    }
}

/// What a dry run decided for one step.
public struct DryRunStep: Codable, Hashable, Sendable {
    /// `run`: it will run (`reasons` says why); `reuse`: its cached result from `sourceRun` is
    /// used; `depends`: it runs unless the steps in `upstream`, which run, produce outputs
    /// identical to an earlier run's (their new outputs are not known before they run).
    public var decision: String
    public var name: String
    /// Why it runs, one line each (`parameter learning_rate: 0.1 → 0.01`, `never ran before`);
    /// for `depends`, what is already known to differ. Whatever the decision, it also says which
    /// inputs are read from a datastore at run time (`input raw: azureml://… is read at run time; …`),
    /// since the prediction can only use what they hold now.
    public var reasons: [String]
    /// The run whose result is reused (`reuse`) or whose execution the step was compared with.
    public var sourceRun: String?
    /// For `depends`: the upstream steps that run.
    public var upstream: [String]
    /// The cache key, when every input is known.
    public var cacheKey: String?

    public init(name: String, decision: String, reasons: [String] = [], sourceRun: String? = nil, upstream: [String] = [], cacheKey: String? = nil) {
        self.name = name
        self.decision = decision
        self.reasons = reasons
        self.sourceRun = sourceRun
        self.upstream = upstream
        self.cacheKey = cacheKey
    }
}

/// The plan a dry run predicts: each step in run order.
public struct DryRunReport: Codable, Hashable, Sendable {
    public var pipeline: String
    public var steps: [DryRunStep]

    public init(pipeline: String, steps: [DryRunStep]) {
        self.pipeline = pipeline
        self.steps = steps
    }
}

/// `POST /v1/runs/{id}/rerun`: submit a finished run again.
public struct RerunRequest: Codable, Sendable {
    /// Force this step and every step downstream of it to run; nil reuses all that is valid.
    public var from: String?
    /// Only say what would run; submit nothing.
    public var dryRun: Bool

    public init(from: String? = nil, dryRun: Bool = false) {
        self.from = from
        self.dryRun = dryRun
    }
}

/// The answer to `RerunRequest`: the new run, or the dry run's plan.
public struct RerunResponse: Codable, Sendable {
    public var run: String?
    public var plan: DryRunReport?
    /// The steps forced to run (`from` and its downstream steps).
    public var forced: [String]

    public init(run: String?, plan: DryRunReport?, forced: [String]) {
        self.run = run
        self.plan = plan
        self.forced = forced
    }
}

/// One side of a step in a run diff.
public struct StepDiffSide: Codable, Hashable, Sendable {
    public var status: StepStatus
    public var reused: Bool
    /// The run whose result was reused.
    public var sourceRun: String?

    public init(status: StepStatus, reused: Bool, sourceRun: String?) {
        self.status = status
        self.reused = reused
        self.sourceRun = sourceRun
    }
}

/// A metric of a step in both runs; `delta` is `b - a` when both have it.
public struct MetricDelta: Codable, Hashable, Sendable {
    public var name: String
    public var a: Double?
    public var b: Double?
    public var delta: Double?

    public init(name: String, a: Double?, b: Double?) {
        self.name = name
        self.a = a
        self.b = b
        self.delta = if let a, let b { b - a } else { nil }
    }
}

/// A step present in both runs of a diff.
public struct StepDiff: Codable, Hashable, Sendable {
    public var step: String
    public var a: StepDiffSide
    public var b: StepDiffSide
    /// What differs in B's cache manifest from A's (parameters, code files, environment, input
    /// contents, command), one line each; empty when the step's inputs are the same.
    public var differences: [String]
    /// Whether both runs recorded the same outputs (nil when either recorded none).
    public var sameOutputs: Bool?
    /// Every metric either run recorded, by name.
    public var metrics: [MetricDelta]

    public init(step: String, a: StepDiffSide, b: StepDiffSide, differences: [String], sameOutputs: Bool?, metrics: [MetricDelta]) {
        self.step = step
        self.a = a
        self.b = b
        self.differences = differences
        self.sameOutputs = sameOutputs
        self.metrics = metrics
    }
}

/// `GET /v1/runs/{a}/diff/{b}`: how run B differs from run A.
public struct RunDiffReport: Codable, Hashable, Sendable {
    public var a: String
    public var b: String
    /// Steps only B has.
    public var added: [String]
    /// Steps only A has.
    public var removed: [String]
    /// Steps both have, in B's order.
    public var steps: [StepDiff]

    public init(a: String, b: String, added: [String], removed: [String], steps: [StepDiff]) {
        self.a = a
        self.b = b
        self.added = added
        self.removed = removed
        self.steps = steps
    }
}

/// A data input of a step as it was run: an artifact digest, or a URI passed as text.
public struct StepDetailInput: Codable, Hashable, Sendable {
    public var name: String
    /// The data type (`uri_folder`, `uri_file`, ...).
    public var type: String
    public var artifact: String?
    public var uri: String?

    public init(name: String, type: String, artifact: String?, uri: String?) {
        self.name = name
        self.type = type
        self.artifact = artifact
        self.uri = uri
    }
}

/// `GET /v1/runs/{id}/steps/{step}`: what a step ran with and what it produced, to replay it.
public struct StepDetail: Codable, Hashable, Sendable {
    public var run: String
    public var step: String
    public var status: StepStatus
    public var reused: Bool
    /// The planned step, JSON-encoded (`Spec.PlannedStep`), opaque here as `planJSON` is.
    public var plannedStepJSON: String
    /// The code snapshot's artifact digest, when the step has code.
    public var code: String?
    /// Its resolved data inputs.
    public var inputs: [StepDetailInput]
    /// Output name → artifact digest of what the run recorded (empty when it produced none).
    public var outputs: [String: String]
    /// The metrics the step recorded (for a reused step: those of the run it reused).
    public var metrics: [String: Double]

    public init(
        run: String, step: String, status: StepStatus, reused: Bool, plannedStepJSON: String, code: String?, inputs: [StepDetailInput],
        outputs: [String: String], metrics: [String: Double] = [:]
    ) {
        self.metrics = metrics
        self.run = run
        self.step = step
        self.status = status
        self.reused = reused
        self.plannedStepJSON = plannedStepJSON
        self.code = code
        self.inputs = inputs
        self.outputs = outputs
    }
}
