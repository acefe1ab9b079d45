/// Orders items so that each comes after the items it depends on, keeping the original order
/// wherever the dependencies allow it.
enum StableTopologicalSort {
    /// The outcome: an order, or a cycle (as item indices, first item repeated at the end).
    enum Outcome: Equatable {
        case ordered([Int])
        case cycle([Int])
    }

    /// Sorts `count` items; `dependencies[i]` lists the items `i` must come after.
    static func sort(count: Int, dependencies: [[Int]]) -> Outcome {
        var remaining = dependencies.map { Set($0).count }
        var dependents = Array(repeating: [Int](), count: count)
        for (item, requirements) in dependencies.enumerated() {
            for requirement in Set(requirements) { dependents[requirement].append(item) }
        }
        var done = Array(repeating: false, count: count)
        var order: [Int] = []
        while order.count < count {
            // The first item in original order whose dependencies are all placed.
            guard let next = (0..<count).first(where: { !done[$0] && remaining[$0] == 0 }) else {
                return .cycle(findCycle(among: done, dependencies: dependencies))
            }
            done[next] = true
            order.append(next)
            for dependent in dependents[next] { remaining[dependent] -= 1 }
        }
        return .ordered(order)
    }

    /// A cycle among the items not yet placed, found by walking dependencies until one repeats.
    private static func findCycle(among done: [Bool], dependencies: [[Int]]) -> [Int] {
        guard let start = done.indices.first(where: { !done[$0] }) else { return [] }
        var path: [Int] = []
        var position: [Int: Int] = [:]
        var current = start
        while position[current] == nil {
            position[current] = path.count
            path.append(current)
            guard let next = dependencies[current].first(where: { !done[$0] }) else { return path }
            current = next
        }
        // Dependencies point backwards in time: reverse so the cycle reads producer -> consumer.
        var loop = Array(Array(path[position[current]!...]).reversed())
        // Start at the earliest item, so the message follows file order.
        if let earliest = loop.indices.min(by: { loop[$0] < loop[$1] }) {
            loop = Array(loop[earliest...] + loop[..<earliest])
        }
        return loop + [loop[0]]
    }
}
