/// A sweep node's own keys, read but not yet sampled (see `SweepSampler`).
struct SweepDefinition {
    /// The search space in file order.
    var dimensions: [SearchDimension]
    var sampling: SamplingAlgorithm
    var objective: SweepObjective
    var limits: SweepLimits
    var earlyTermination: EarlyTerminationPolicy?
    /// `search_space:`, for errors about the space as a whole.
    var searchSpaceLocation: SourceNode
}

/// One entry of `search_space:`: a trial input and the values it may take.
struct SearchDimension: Hashable {
    var name: String
    var distribution: SearchDistribution
    var location: SourceNode

    static func == (lhs: SearchDimension, rhs: SearchDimension) -> Bool {
        lhs.name == rhs.name && lhs.distribution == rhs.distribution
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(distribution)
    }
}

/// The values a search-space input may take, as Azure ML's sweep grammar writes them.
///
/// Azure's meanings, kept here: `loguniform` and `lognormal` draw `exp()` of a uniform or normal
/// value, so their `min_value`/`max_value` (or `mu`/`sigma`) are on the log scale; a `q` variant
/// rounds the value to a multiple of `q` (`round(value / q) * q`); `randint(upper)` is an integer in
/// `0 ..< upper`.
enum SearchDistribution: Hashable, Sendable {
    case choice([Literal])
    case randint(upper: Int)
    case uniform(min: Double, max: Double, q: Double?)
    case loguniform(min: Double, max: Double, q: Double?)
    case normal(mu: Double, sigma: Double, q: Double?)
    case lognormal(mu: Double, sigma: Double, q: Double?)

    /// How many values a grid enumerates, or nil when the distribution is continuous.
    var gridCount: Int? {
        switch self {
        case .choice(let values): return values.count
        case .randint(let upper): return upper
        case .uniform, .loguniform, .normal, .lognormal: return nil
        }
    }

    /// The grid's `index`-th value (`index < gridCount`).
    func gridValue(at index: Int) -> Literal {
        switch self {
        case .choice(let values): return values[index]
        default: return .int(index)
        }
    }
}

extension SearchDimension {
    /// The dimension as an optimiser reads it.
    var described: SweepDimension {
        switch distribution {
        case .choice(let values):
            let kind: String
            if values.allSatisfy({ if case .int = $0 { true } else { false } }) {
                kind = "int"
            } else if values.allSatisfy({ $0.numericValue != nil && !($0.isText) }) {
                kind = "float"
            } else {
                kind = "text"
            }
            return SweepDimension(name: name, type: "choice", values: values.map(\.pythonString), valueKind: kind)
        case .randint(let upper):
            return SweepDimension(name: name, type: "randint", parameters: ["upper": Double(upper)])
        case .uniform(let low, let high, let q):
            return SweepDimension(name: name, type: q == nil ? "uniform" : "quniform", parameters: Self.numbers(["min_value": low, "max_value": high], q))
        case .loguniform(let low, let high, let q):
            return SweepDimension(name: name, type: q == nil ? "loguniform" : "qloguniform", parameters: Self.numbers(["min_value": low, "max_value": high], q))
        case .normal(let mu, let sigma, let q):
            return SweepDimension(name: name, type: q == nil ? "normal" : "qnormal", parameters: Self.numbers(["mu": mu, "sigma": sigma], q))
        case .lognormal(let mu, let sigma, let q):
            return SweepDimension(name: name, type: q == nil ? "lognormal" : "qlognormal", parameters: Self.numbers(["mu": mu, "sigma": sigma], q))
        }
    }

    private static func numbers(_ values: [String: Double], _ q: Double?) -> [String: Double] {
        var result = values
        if let q { result["q"] = q }
        return result
    }
}

extension Literal {
    /// Whether the value is text (a string or timestamp), even when it reads as a number.
    var isText: Bool {
        switch self {
        case .string, .timestamp: return true
        default: return false
        }
    }
}
