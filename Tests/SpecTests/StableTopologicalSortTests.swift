import TestKit
import Testing
@testable import Spec

struct StableTopologicalSortTests {
    @Test func keepsOriginalOrderWhenDependenciesAllow() {
        #expect(StableTopologicalSort.sort(count: 4, dependencies: [[], [], [], []]) == .ordered([0, 1, 2, 3]))
        #expect(StableTopologicalSort.sort(count: 3, dependencies: [[2], [], []]) == .ordered([1, 2, 0]))
        #expect(StableTopologicalSort.sort(count: 4, dependencies: [[3], [0], [], []]) == .ordered([2, 3, 0, 1]))
    }

    @Test func reportsACycle() {
        guard case .cycle(let loop) = StableTopologicalSort.sort(count: 4, dependencies: [[], [3], [1], [2]]) else {
            Issue.record("expected a cycle")
            return
        }
        #expect(loop.first == loop.last)
        #expect(Set(loop) == [1, 2, 3])
    }

    @Test(arguments: 0..<50)
    func randomAcyclicGraphsSortConsistently(_ seed: Int) {
        var generator = SeededGenerator(seed: UInt64(seed))
        let count = Int(generator.next() % 12) + 1
        // Edges only from later to earlier items in a random permutation: acyclic by construction.
        var permutation = Array(0..<count)
        permutation.shuffle(using: &generator)
        var dependencies = Array(repeating: [Int](), count: count)
        for later in 0..<count {
            for earlier in 0..<later where generator.next() % 3 == 0 {
                dependencies[permutation[later]].append(permutation[earlier])
            }
        }
        guard case .ordered(let order) = StableTopologicalSort.sort(count: count, dependencies: dependencies) else {
            Issue.record("an acyclic graph was reported as cyclic")
            return
        }
        #expect(order.sorted() == Array(0..<count))
        var placed = Set<Int>()
        for item in order {
            #expect(dependencies[item].allSatisfy(placed.contains))
            placed.insert(item)
        }
    }
}
