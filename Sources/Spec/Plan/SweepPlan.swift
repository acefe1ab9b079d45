import Yams

/// A sweep step (`type: sweep`): the trials it runs and how the best one is chosen.
///
/// A sweep node of the pipeline file becomes one trial step per sampled point (`tune/trial_0`,
/// `tune/trial_1`, ...), each an ordinary command step whose search-space inputs hold that point's
/// values, and one sweep step (`tune`) that reads every trial's outputs. The coordinator never sends
/// the sweep step to a worker: once every trial has ended it picks the best completed trial by the
/// objective, and the sweep step's outputs are that trial's outputs.
public struct SweepSelection: Sendable, Codable, Hashable {
    /// The metric and which way is better.
    public var objective: SweepObjective
    /// `sampling_algorithm` as resolved (the seed a random sweep used, for one).
    public var sampling: SamplingAlgorithm
    /// `limits:` of the sweep.
    public var limits: SweepLimits
    /// `early_termination:`, when set.
    public var earlyTermination: EarlyTerminationPolicy?
    /// The trial steps, in sampling order, each with the point it runs (empty for a bayesian
    /// sweep, whose points are chosen as trials become ready).
    public var trials: [SweepTrial]
    /// The search space, for an optimiser that proposes points (bayesian sampling).
    public var space: [SweepDimension]
    /// How a trial's command is compiled again for a point chosen at run time (bayesian sampling).
    public var trialCommand: TrialCommandShape?

    public init(
        objective: SweepObjective, sampling: SamplingAlgorithm, limits: SweepLimits,
        earlyTermination: EarlyTerminationPolicy? = nil, trials: [SweepTrial], space: [SweepDimension] = [],
        trialCommand: TrialCommandShape? = nil
    ) {
        self.objective = objective
        self.sampling = sampling
        self.limits = limits
        self.earlyTermination = earlyTermination
        self.trials = trials
        self.space = space
        self.trialCommand = trialCommand
    }

    /// The name of the sweep step's input that carries `output` of `trial` (`trial_3.model`).
    public static func inputName(trial: String, output: String) -> String {
        let short = trial.split(separator: "/").last.map(String.init) ?? trial
        return short + "." + output
    }
}

/// One search-space input, as an optimiser reads it.
public struct SweepDimension: Sendable, Codable, Hashable {
    /// The trial input.
    public var name: String
    /// `choice`, `randint`, `uniform`, `quniform`, `loguniform`, `qloguniform`, `normal`,
    /// `qnormal`, `lognormal` or `qlognormal`.
    public var type: String
    /// For `choice`: the values, as the command receives them.
    public var values: [String]?
    /// For `choice`: whether every value is an integer (`int`), a number (`float`) or other text.
    public var valueKind: String?
    /// `upper`, `min_value`, `max_value`, `mu`, `sigma`, `q`, as given.
    public var parameters: [String: Double]

    public init(name: String, type: String, values: [String]? = nil, valueKind: String? = nil, parameters: [String: Double] = [:]) {
        self.name = name
        self.type = type
        self.values = values
        self.valueKind = valueKind
        self.parameters = parameters
    }
}

/// What compiling a trial's command needs besides its parameter values: each declared input,
/// whether it is optional, and whether it is data; and the outputs.
public struct TrialCommandShape: Sendable, Codable, Hashable {
    public struct Input: Sendable, Codable, Hashable {
        public var name: String
        public var isOptional: Bool
        public var isData: Bool
    }

    /// In declaration order.
    public var inputs: [Input]
    public var outputs: [String]
    /// The file and field the command came from, for messages.
    public var file: String
    public var field: String
}

/// One trial of a sweep: its step and the search-space values it runs with.
public struct SweepTrial: Sendable, Codable, Hashable {
    /// The trial's step name (`tune/trial_0`).
    public var step: String
    /// Search-space input → value, rendered as the command receives it.
    public var point: [String: String]

    public init(step: String, point: [String: String]) {
        self.step = step
        self.point = point
    }
}

/// `objective:` of a sweep.
public struct SweepObjective: Sendable, Codable, Hashable {
    /// Whether a larger or a smaller metric value is better.
    public enum Goal: String, Sendable, Codable, Hashable {
        case maximize
        case minimize
    }

    public var goal: Goal
    /// `primary_metric`: the metric each trial logs (through MLflow or `$CONDUIT_METRICS_FILE`).
    public var primaryMetric: String

    public init(goal: Goal, primaryMetric: String) {
        self.goal = goal
        self.primaryMetric = primaryMetric
    }

    /// Whether `value` is better than `other` under this goal.
    public func isBetter(_ value: Double, than other: Double) -> Bool {
        goal == .maximize ? value > other : value < other
    }
}

/// `sampling_algorithm:` of a sweep.
public enum SamplingAlgorithm: Sendable, Codable, Hashable {
    /// Every combination of the `choice` values, in file order.
    case grid
    /// Points drawn at random from `seed` (chosen at load time when the file sets none).
    case random(seed: UInt64, seedGiven: Bool)
    /// Points proposed one at a time by a Bayesian optimiser (Optuna's TPE) from the results so far.
    case bayesian(seed: UInt64)

    /// How the algorithm is written in status output: `grid`, `random (seed 7)`.
    public var description: String {
        switch self {
        case .grid: return "grid"
        case .random(let seed, _): return "random (seed \(seed))"
        case .bayesian(let seed): return "bayesian (seed \(seed))"
        }
    }
}

/// `limits:` of a sweep.
public struct SweepLimits: Sendable, Codable, Hashable {
    /// `max_total_trials`.
    public var maxTotalTrials: Int
    /// `max_concurrent_trials`: at most this many trials queued or running at once (nil: no limit).
    public var maxConcurrentTrials: Int?
    /// `timeout` of the whole sweep, in seconds from its first trial's start: the trials still
    /// waiting or running then are stopped, and the best of those that completed is chosen.
    public var timeoutSeconds: Int?
    /// `trial_timeout`, in seconds: each trial's time limit.
    public var trialTimeoutSeconds: Int?

    /// The longest `timeout` or `trial_timeout`: 30 days.
    public static let maximumSeconds = 30 * 86_400

    public init(maxTotalTrials: Int, maxConcurrentTrials: Int? = nil, timeoutSeconds: Int? = nil, trialTimeoutSeconds: Int? = nil) {
        self.maxTotalTrials = maxTotalTrials
        self.maxConcurrentTrials = maxConcurrentTrials
        self.timeoutSeconds = timeoutSeconds
        self.trialTimeoutSeconds = trialTimeoutSeconds
    }
}

/// `early_termination:` of a sweep: when a running trial whose objective lags is stopped.
public struct EarlyTerminationPolicy: Sendable, Codable, Hashable {
    /// The rule.
    public enum Rule: Sendable, Codable, Hashable {
        /// Stop a trial whose value is outside `slack_factor` (a ratio) or `slack_amount` (an
        /// absolute difference) of the best trial's value at the same interval.
        case bandit(slackFactor: Double?, slackAmount: Double?)
        /// Stop a trial whose best value so far is worse than the median of the other trials'
        /// running averages at the same interval.
        case medianStopping
        /// Stop a trial in the worst `percentage` per cent of the trials at the same interval.
        case truncationSelection(percentage: Int)
    }

    public var rule: Rule
    /// `evaluation_interval`: the policy is applied at every this many reported values (default 1).
    public var evaluationInterval: Int
    /// `delay_evaluation`: the first this many reported values are never evaluated (default 0).
    public var delayEvaluation: Int

    public init(rule: Rule, evaluationInterval: Int = 1, delayEvaluation: Int = 0) {
        self.rule = rule
        self.evaluationInterval = evaluationInterval
        self.delayEvaluation = delayEvaluation
    }

    /// The policy's name as the file writes it.
    public var name: String {
        switch rule {
        case .bandit: return "bandit"
        case .medianStopping: return "median_stopping"
        case .truncationSelection: return "truncation_selection"
        }
    }
}

extension PlannedStep {
    /// This bayesian trial with the search-space inputs set to `point` (input → value as the command
    /// receives it): its parameters, and its command compiled again.
    ///
    /// - Throws: `SpecError` when the command cannot be compiled with those values.
    public func withSweepPoint(_ point: [String: String], shape: TrialCommandShape) throws(SpecError) -> PlannedStep {
        var step = self
        step.parameters.merge(point) { _, new in new }
        var inputs: [String: CommandCompiler.Input] = [:]
        for input in shape.inputs {
            let value: CommandCompiler.Input.Value
            if input.isData {
                value = step.inputs.contains { $0.name == input.name } ? .data : .unset
            } else {
                value = step.parameters[input.name].map { .parameter($0) } ?? .unset
            }
            inputs[input.name] = CommandCompiler.Input(isOptional: input.isOptional, value: value)
        }
        let location = SourceNode(.scalar(.init(commandTemplate)), file: shape.file, field: shape.field)
        step.command = try CommandCompiler.compile(
            commandTemplate, inputs: inputs, inputOrder: shape.inputs.map(\.name), outputs: shape.outputs, at: location
        )
        return step
    }
}
