import Foundation
import Testing

/// Thousands of seeded schedules of the coordinator and workers under faults. Set
/// `CONDUIT_SIM_SEED=N` to replay one schedule, `CONDUIT_SIM_SCHEDULES=N` to run more or fewer.
@Suite struct SimulationTests {
    static let root: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/conduit-sim-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static var seeds: [UInt64] {
        let environment = ProcessInfo.processInfo.environment
        if let seed = environment["CONDUIT_SIM_SEED"].flatMap(UInt64.init) { return [seed] }
        let count = environment["CONDUIT_SIM_SCHEDULES"].flatMap(Int.init) ?? 10_000
        let first = environment["CONDUIT_SIM_FIRST_SEED"].flatMap(UInt64.init) ?? 1
        return (0..<UInt64(count)).map { first + $0 }
    }

    /// Split in shards so the two cores share the work.
    @Test(arguments: 0..<4)
    func schedulesKeepTheInvariants(shard: Int) async throws {
        let seeds = Self.seeds.enumerated().filter { $0.offset % 4 == shard }.map(\.element)
        var failures: [String] = []
        for seed in seeds {
            let simulation = try Simulation(seed: seed, root: Self.root)
            try await simulation.run()
            if ProcessInfo.processInfo.environment["CONDUIT_SIM_VERBOSE"] != nil {
                print(simulation.summary + " dispatches=\(simulation.dispatches) overlapsSeen=\(simulation.violations.count)")
            }
            if !simulation.violations.isEmpty {
                failures.append("\(simulation.summary)\n  " + simulation.violations.prefix(5).joined(separator: "\n  ") + "\n  replay: CONDUIT_SIM_SEED=\(seed) swift test --filter SimulationTests")
                if failures.count >= 3 { break }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
