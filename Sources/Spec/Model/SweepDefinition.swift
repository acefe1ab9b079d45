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

    /// The values a grid enumerates, or nil when the distribution is continuous.
    var gridValues: [Literal]? {
        switch self {
        case .choice(let values): return values
        case .randint(let upper): return (0..<upper).map { .int($0) }
        case .uniform, .loguniform, .normal, .lognormal: return nil
        }
    }
}
