import Foundation

/// Reading `type: sweep` nodes.
extension SpecReader {
    /// Keys of a sweep node.
    static let sweepNodeKeys: Set<String> = [
        "type", "trial", "inputs", "outputs", "search_space", "sampling_algorithm", "objective", "limits",
        "early_termination", "compute", "resources", "queue_settings", "display_name", "description", "tags",
        "properties", "comment", "name", "experiment_name", "identity", "$schema",
    ]

    /// The largest number of trials one sweep may ask for.
    static let maximumSweepTrials = 1000

    /// Reads the sweep-specific keys of a sweep node: `trial`, `search_space`, `sampling_algorithm`,
    /// `objective`, `limits` and `early_termination`. A random sweep without a `seed` gets `seed`.
    mutating func readSweep(
        _ entries: [(key: String, value: SourceNode)], node: SourceNode, baseDirectory: String, seed: UInt64
    ) throws -> (ComponentSpec, SweepDefinition) {
        warnUnknownKeys(entries, known: Self.sweepNodeKeys, in: node, ignored: IgnoredKeys.sweepNode)
        guard let trialNode = entries["trial"], !trialNode.isNull else {
            throw node.error(.missingField, "a sweep step needs trial: the command component each trial runs (a file, an inline component or azureml:NAME:VERSION)")
        }
        let trial = try readCommandComponent(trialNode, baseDirectory: baseDirectory)
        guard let spaceNode = entries["search_space"], !spaceNode.isNull else {
            throw node.error(.missingField, "a sweep step needs search_space: the trial inputs to vary, e.g. learning_rate: {type: uniform, min_value: 0.01, max_value: 0.1}")
        }
        var dimensions: [SearchDimension] = []
        for entry in try spaceNode.entries() {
            guard let declaration = trial.inputs.first(where: { $0.name == entry.key }) else {
                let known = trial.inputs.map(\.name)
                throw entry.value.error(
                    .undeclaredReference,
                    "the trial component has no input '\(entry.key)' to search over (inputs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
                )
            }
            if case .data = declaration.kind {
                throw entry.value.error(.invalidType, "'\(entry.key)' is a data input of the trial; a search space varies parameters (numbers, strings, booleans)")
            }
            dimensions.append(SearchDimension(name: entry.key, distribution: try Self.readDistribution(entry.value), location: entry.value))
        }
        guard !dimensions.isEmpty else {
            throw spaceNode.error(.missingField, "search_space is empty; name at least one trial input to vary")
        }
        let objective = try Self.readObjective(entries["objective"], node: node)
        let sampling = try Self.readSampling(entries["sampling_algorithm"], node: node, seed: seed)
        let limits = try Self.readSweepLimits(entries["limits"], node: node)
        var earlyTermination: EarlyTerminationPolicy?
        if let policy = entries["early_termination"], !policy.isNull {
            earlyTermination = try Self.readEarlyTermination(policy)
        }
        if case .grid = sampling {
            for dimension in dimensions where dimension.distribution.gridCount == nil {
                throw dimension.location.error(
                    .invalidType,
                    "grid sampling enumerates choice and randint values only; '\(dimension.name)' is continuous: use type: choice with the values to try, or sampling_algorithm: random"
                )
            }
        }
        if case .bayesian = sampling, earlyTermination != nil, let policy = entries["early_termination"] {
            throw policy.error(.notSupported, "bayesian sampling does not support early_termination (as in Azure ML); remove it or use random sampling")
        }
        let definition = SweepDefinition(
            dimensions: dimensions, sampling: sampling, objective: objective, limits: limits,
            earlyTermination: earlyTermination, searchSpaceLocation: spaceNode
        )
        return (trial, definition)
    }

    /// One `search_space` entry: `{type: choice, values: [...]}` and the like.
    static func readDistribution(_ node: SourceNode) throws(SpecError) -> SearchDistribution {
        guard node.isMapping else {
            throw node.error(.invalidType, "a search space entry must be a mapping such as {type: choice, values: [1, 2]}, found \(node.shapeName)")
        }
        let entries = try node.entries()
        guard let typeNode = entries["type"] else {
            throw node.error(.missingField, "a search space entry needs type: one of \(distributionNames.joined(separator: ", "))")
        }
        let type = try typeNode.string()
        func number(_ key: String) throws(SpecError) -> Double {
            guard let value = entries[key], !value.isNull else {
                throw node.error(.missingField, "type \(type) needs \(key): a number")
            }
            guard let number = try value.literal().numericValue, number.isFinite else {
                throw value.error(.invalidType, "\(key) must be a number, found \(try value.literal().quoted)")
            }
            return number
        }
        func quantum() throws(SpecError) -> Double {
            let q = try number("q")
            guard q > 0 else { throw (entries["q"] ?? node).error(.outOfRange, "q must be above 0, found \(q)") }
            return q
        }
        func keys(_ allowed: [String]) throws(SpecError) {
            for entry in entries where entry.key != "type" && !allowed.contains(entry.key) {
                throw entry.value.error(.unknownField, "type \(type) takes \(allowed.joined(separator: ", ")); '\(entry.key)' is not one of them")
            }
        }
        func range() throws(SpecError) -> (Double, Double) {
            let low = try number("min_value"), high = try number("max_value")
            guard low < high else {
                throw (entries["max_value"] ?? node).error(.outOfRange, "max_value (\(high)) must be above min_value (\(low))")
            }
            return (low, high)
        }
        func spread() throws(SpecError) -> (Double, Double) {
            let mu = try number("mu"), sigma = try number("sigma")
            guard sigma > 0 else { throw (entries["sigma"] ?? node).error(.outOfRange, "sigma must be above 0, found \(sigma)") }
            return (mu, sigma)
        }
        switch type {
        case "choice":
            try keys(["values"])
            guard let valuesNode = entries["values"] else {
                throw node.error(.missingField, "type choice needs values: a list of the values to try")
            }
            var values: [Literal] = []
            for element in try valuesNode.elements() {
                guard !element.isMapping, !element.isSequence else {
                    throw element.error(.notSupported, "nested search spaces (a mapping or list inside choice values) are not supported; list plain values")
                }
                let value = try element.literal()
                if !values.contains(value) { values.append(value) }
            }
            guard !values.isEmpty else { throw valuesNode.error(.missingField, "choice needs at least one value") }
            return .choice(values)
        case "randint":
            try keys(["upper"])
            guard let upperNode = entries["upper"] else { throw node.error(.missingField, "type randint needs upper: values are 0 up to upper - 1") }
            let upper = try upperNode.integer()
            guard upper >= 1 else { throw upperNode.error(.outOfRange, "upper must be at least 1, found \(upper)") }
            return .randint(upper: upper)
        case "uniform", "quniform":
            try keys(type == "uniform" ? ["min_value", "max_value"] : ["min_value", "max_value", "q"])
            let (low, high) = try range()
            return .uniform(min: low, max: high, q: type == "quniform" ? try quantum() : nil)
        case "loguniform", "qloguniform":
            try keys(type == "loguniform" ? ["min_value", "max_value"] : ["min_value", "max_value", "q"])
            let (low, high) = try range()
            return .loguniform(min: low, max: high, q: type == "qloguniform" ? try quantum() : nil)
        case "normal", "qnormal":
            try keys(type == "normal" ? ["mu", "sigma"] : ["mu", "sigma", "q"])
            let (mu, sigma) = try spread()
            return .normal(mu: mu, sigma: sigma, q: type == "qnormal" ? try quantum() : nil)
        case "lognormal", "qlognormal":
            try keys(type == "lognormal" ? ["mu", "sigma"] : ["mu", "sigma", "q"])
            let (mu, sigma) = try spread()
            return .lognormal(mu: mu, sigma: sigma, q: type == "qlognormal" ? try quantum() : nil)
        default:
            throw typeNode.error(.invalidEnum, "unknown search space type '\(type)'; expected one of: \(distributionNames.joined(separator: ", "))")
        }
    }

    static let distributionNames = [
        "choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal", "qlognormal",
    ]

    static func readObjective(_ node: SourceNode?, node parent: SourceNode) throws(SpecError) -> SweepObjective {
        guard let node, !node.isNull else {
            throw parent.error(.missingField, "a sweep step needs objective: {goal: maximize or minimize, primary_metric: NAME}")
        }
        let entries = try node.entries()
        for entry in entries where entry.key != "goal" && entry.key != "primary_metric" {
            throw entry.value.error(.unknownField, "objective takes goal and primary_metric; '\(entry.key)' is not one of them")
        }
        guard let goalNode = entries["goal"] else { throw node.error(.missingField, "objective needs goal: maximize or minimize") }
        guard let goal = SweepObjective.Goal(rawValue: try goalNode.string().lowercased()) else {
            throw goalNode.error(.invalidEnum, "goal must be maximize or minimize, found '\(try goalNode.string())'")
        }
        guard let metricNode = entries["primary_metric"] else {
            throw node.error(.missingField, "objective needs primary_metric: the metric each trial logs (e.g. with mlflow.log_metric)")
        }
        let metric = try metricNode.string()
        guard !metric.isEmpty else { throw metricNode.error(.invalidType, "primary_metric must name a metric") }
        return SweepObjective(goal: goal, primaryMetric: metric)
    }

    static func readSampling(_ node: SourceNode?, node parent: SourceNode, seed: UInt64) throws(SpecError) -> SamplingAlgorithm {
        guard let node, !node.isNull else {
            throw parent.error(.missingField, "a sweep step needs sampling_algorithm: random, grid or bayesian")
        }
        var type: String
        var givenSeed: UInt64?
        if node.isMapping {
            let entries = try node.entries()
            guard let typeNode = entries["type"] else { throw node.error(.missingField, "sampling_algorithm needs type: random, grid or bayesian") }
            type = try typeNode.string()
            for entry in entries where !["type", "seed", "rule", "logbase"].contains(entry.key) {
                throw entry.value.error(.unknownField, "sampling_algorithm takes type, seed, rule and logbase; '\(entry.key)' is not one of them")
            }
            if let seedNode = entries["seed"], !seedNode.isNull {
                let value = try seedNode.integer()
                guard value >= 0 else { throw seedNode.error(.outOfRange, "seed must be 0 or more, found \(value)") }
                givenSeed = UInt64(value)
            }
            if let rule = entries["rule"], !rule.isNull, try rule.string() != "random" {
                throw rule.error(.notSupported, "sampling rule '\(try rule.string())' is not supported; Conduit samples with rule: random")
            }
        } else {
            type = try node.string()
        }
        type = type.lowercased()
        switch type {
        case "grid":
            return .grid
        case "random":
            return .random(seed: givenSeed ?? seed, seedGiven: givenSeed != nil)
        case "bayesian":
            return .bayesian(seed: givenSeed ?? seed)
        default:
            throw node.error(.invalidEnum, "sampling_algorithm must be random, grid or bayesian, found '\(type)'")
        }
    }

    static func readSweepLimits(_ node: SourceNode?, node parent: SourceNode) throws(SpecError) -> SweepLimits {
        guard let node, !node.isNull else {
            throw parent.error(.missingField, "a sweep step needs limits: with max_total_trials")
        }
        let entries = try node.entries()
        for entry in entries where !["max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"].contains(entry.key) {
            throw entry.value.error(.unknownField, "limits of a sweep take max_total_trials, max_concurrent_trials, timeout and trial_timeout; '\(entry.key)' is not one of them")
        }
        func positive(_ key: String, maximum: Int = .max) throws(SpecError) -> Int? {
            guard let value = entries[key], !value.isNull else { return nil }
            let number = try value.integer()
            guard number >= 1, number <= maximum else {
                throw value.error(.outOfRange, "\(key) must be between 1 and \(maximum), found \(number)")
            }
            return number
        }
        guard let total = try positive("max_total_trials", maximum: maximumSweepTrials) else {
            throw node.error(.missingField, "limits needs max_total_trials: how many trials to run at most (up to \(maximumSweepTrials))")
        }
        return SweepLimits(
            maxTotalTrials: total, maxConcurrentTrials: try positive("max_concurrent_trials", maximum: maximumSweepTrials),
            timeoutSeconds: try positive("timeout", maximum: SweepLimits.maximumSeconds),
            trialTimeoutSeconds: try positive("trial_timeout", maximum: SweepLimits.maximumSeconds)
        )
    }

    static func readEarlyTermination(_ node: SourceNode) throws(SpecError) -> EarlyTerminationPolicy {
        let entries = try node.entries()
        guard let typeNode = entries["type"] else {
            throw node.error(.missingField, "early_termination needs type: bandit, median_stopping or truncation_selection")
        }
        let type = try typeNode.string()
        func number(_ key: String) throws(SpecError) -> Double? {
            guard let value = entries[key], !value.isNull else { return nil }
            guard let number = try value.literal().numericValue, number.isFinite, number >= 0 else {
                throw value.error(.invalidType, "\(key) must be a number of 0 or more, found \(try value.literal().quoted)")
            }
            return number
        }
        func count(_ key: String, minimum: Int, fallback: Int) throws(SpecError) -> Int {
            guard let value = entries[key], !value.isNull else { return fallback }
            let number = try value.integer()
            guard number >= minimum else { throw value.error(.outOfRange, "\(key) must be at least \(minimum), found \(number)") }
            return number
        }
        let common = ["type", "evaluation_interval", "delay_evaluation"]
        let rule: EarlyTerminationPolicy.Rule
        switch type {
        case "bandit":
            for entry in entries where !(common + ["slack_factor", "slack_amount"]).contains(entry.key) {
                throw entry.value.error(.unknownField, "a bandit policy takes slack_factor or slack_amount, evaluation_interval and delay_evaluation; '\(entry.key)' is not one of them")
            }
            let factor = try number("slack_factor"), amount = try number("slack_amount")
            guard (factor == nil) != (amount == nil) else {
                throw node.error(.missingField, "a bandit policy needs exactly one of slack_factor (a ratio, e.g. 0.1) and slack_amount (an absolute difference)")
            }
            rule = .bandit(slackFactor: factor, slackAmount: amount)
        case "median_stopping":
            for entry in entries where !common.contains(entry.key) {
                throw entry.value.error(.unknownField, "a median_stopping policy takes evaluation_interval and delay_evaluation; '\(entry.key)' is not one of them")
            }
            rule = .medianStopping
        case "truncation_selection":
            for entry in entries where !(common + ["truncation_percentage", "exclude_finished_jobs"]).contains(entry.key) {
                throw entry.value.error(.unknownField, "a truncation_selection policy takes truncation_percentage, evaluation_interval and delay_evaluation; '\(entry.key)' is not one of them")
            }
            guard let percentageNode = entries["truncation_percentage"] else {
                throw node.error(.missingField, "a truncation_selection policy needs truncation_percentage: 1 to 99")
            }
            let percentage = try percentageNode.integer()
            guard (1...99).contains(percentage) else {
                throw percentageNode.error(.outOfRange, "truncation_percentage must be between 1 and 99, found \(percentage)")
            }
            rule = .truncationSelection(percentage: percentage)
        default:
            throw typeNode.error(.invalidEnum, "early_termination type must be bandit, median_stopping or truncation_selection, found '\(type)'")
        }
        return EarlyTerminationPolicy(
            rule: rule, evaluationInterval: try count("evaluation_interval", minimum: 1, fallback: 1),
            delayEvaluation: try count("delay_evaluation", minimum: 0, fallback: 0)
        )
    }
}
