import Foundation

/// Chooses the points a grid or random sweep tries. Pure and deterministic.
///
/// - Grid: every combination of the dimensions' values (`choice` values, `randint` as `0 ..< upper`),
///   the first dimension varying slowest, cut at `max_total_trials`. Adding a value to a `choice`
///   keeps every earlier combination, so a widened grid re-runs only the new points (trials are
///   reused by content, not by number).
/// - Random: the point of draw `k` is a function of the seed, `k` and each dimension's name only, so
///   raising `max_total_trials` keeps the earlier trials' points, and changing one dimension leaves
///   the others' values as they were. A point equal to an earlier one is drawn again; a discrete
///   space smaller than `max_total_trials` yields each of its points once.
enum SweepSampler {
    /// The points to try, in order; each maps a dimension's name to its value.
    static func points(_ dimensions: [SearchDimension], sampling: SamplingAlgorithm, limit: Int) -> [[String: Literal]] {
        switch sampling {
        case .grid:
            return grid(dimensions, limit: limit)
        case .random(let seed, _):
            return random(dimensions, seed: seed, limit: limit)
        case .bayesian:
            return []
        }
    }

    static func grid(_ dimensions: [SearchDimension], limit: Int) -> [[String: Literal]] {
        let counts = dimensions.map { $0.distribution.gridCount ?? 0 }
        guard !counts.contains(0) else { return [] }
        var result: [[String: Literal]] = []
        var indices = Array(repeating: 0, count: dimensions.count)
        while result.count < limit {
            var point: [String: Literal] = [:]
            for (dimension, index) in zip(dimensions, indices) { point[dimension.name] = dimension.distribution.gridValue(at: index) }
            result.append(point)
            // Odometer: the last dimension varies fastest.
            var position = dimensions.count - 1
            while position >= 0 {
                indices[position] += 1
                if indices[position] < counts[position] { break }
                indices[position] = 0
                position -= 1
            }
            if position < 0 { break }
        }
        return result
    }

    static func random(_ dimensions: [SearchDimension], seed: UInt64, limit: Int) -> [[String: Literal]] {
        var result: [[String: Literal]] = []
        var seen = Set<[String: Literal]>()
        var draw: UInt64 = 0
        let maximumDraws = UInt64(limit) * 20 + 100
        while result.count < limit, draw < maximumDraws {
            var point: [String: Literal] = [:]
            for dimension in dimensions {
                var generator = DrawGenerator(seed: seed, draw: draw, name: dimension.name)
                point[dimension.name] = sample(dimension.distribution, using: &generator)
            }
            draw += 1
            if seen.insert(point).inserted { result.append(point) }
        }
        return result
    }

    /// A value every point could take the place of, to compile a bayesian trial before its point
    /// is known: the first choice, 0, the low end, or the centre.
    static func representative(_ distribution: SearchDistribution) -> Literal {
        func quantized(_ value: Double, _ q: Double?) -> Literal {
            .float(q.map { (value / $0).rounded(.toNearestOrEven) * $0 } ?? value)
        }
        switch distribution {
        case .choice(let values): return values[0]
        case .randint: return .int(0)
        case .uniform(let low, _, let q): return quantized(low, q)
        case .loguniform(let low, _, let q): return quantized(Foundation.exp(low), q)
        case .normal(let mu, _, let q): return quantized(mu, q)
        case .lognormal(let mu, _, let q): return quantized(Foundation.exp(mu), q)
        }
    }

    /// One value of `distribution`, with Azure's meanings (see `SearchDistribution`).
    static func sample(_ distribution: SearchDistribution, using generator: inout DrawGenerator) -> Literal {
        func quantized(_ value: Double, _ q: Double?) -> Literal {
            guard let q else { return .float(value) }
            return .float((value / q).rounded(.toNearestOrEven) * q)
        }
        switch distribution {
        case .choice(let values):
            // Rendezvous hashing: the value with the highest hash for this draw wins, so adding a
            // value changes a draw only where the new value wins (1 in n + 1 draws).
            var best = values[0]
            var highest: UInt64 = 0
            for (index, value) in values.enumerated() {
                var hasher = generator.fork(value.pythonString)
                let hash = hasher.next()
                if index == 0 || hash > highest {
                    highest = hash
                    best = value
                }
            }
            return best
        case .randint(let upper):
            return .int(Int(generator.next() % UInt64(upper)))
        case .uniform(let low, let high, let q):
            return quantized(low + (high - low) * generator.unit(), q)
        case .loguniform(let low, let high, let q):
            return quantized(Foundation.exp(low + (high - low) * generator.unit()), q)
        case .normal(let mu, let sigma, let q):
            return quantized(mu + sigma * generator.gaussian(), q)
        case .lognormal(let mu, let sigma, let q):
            return quantized(Foundation.exp(mu + sigma * generator.gaussian()), q)
        }
    }
}

/// SplitMix64 seeded from (seed, draw, dimension name): the same inputs give the same values on
/// every machine and every version of Conduit.
struct DrawGenerator: RandomNumberGenerator {
    private(set) var state: UInt64

    init(seed: UInt64, draw: UInt64, name: String) {
        // The name's hash, so each dimension has a stream of its own.
        state = seed &* 0x9e37_79b9_7f4a_7c15 ^ draw &* 0xbf58_476d_1ce4_e5b9 ^ Self.hash(name)
    }

    mutating func next() -> UInt64 {
        state = state &+ 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A generator of its own for `label` (a choice value), from this one's state.
    func fork(_ label: String) -> DrawGenerator {
        var copy = self
        copy.state ^= DrawGenerator.hash(label) &* 0xd6e8_feb8_6659_fd93
        return copy
    }

    /// FNV-1a of `text`.
    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// A uniform value in [0, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal value (Box–Muller).
    mutating func gaussian() -> Double {
        let u = max(unit(), 0x1.0p-53)
        let v = unit()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
    }
}
