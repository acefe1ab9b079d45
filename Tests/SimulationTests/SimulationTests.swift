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

    /// Split in two shards so two cores share the work. The suite runs on its own (README's test
    /// command runs it after the others): it keeps the cooperative thread pool busy.
    @Test(arguments: 0..<2)
    func schedulesKeepTheInvariants(shard: Int) async throws {
        let seeds = Self.seeds.enumerated().filter { $0.offset % 2 == shard }.map(\.element)
        var failures: [String] = []
        for seed in seeds {
            let simulation = try Simulation(seed: seed, root: Self.root)
            let began = ContinuousClock.now
            try await simulation.run()
            if let slow = ProcessInfo.processInfo.environment["CONDUIT_SIM_SLOW_MS"].flatMap(Int64.init),
               ContinuousClock.now - began > .milliseconds(slow) {
                print("slow seed \(seed): \(ContinuousClock.now - began), virtual \(simulation.now - simulation.start) ms, \(simulation.summary.prefix(120))")
            }
            if ProcessInfo.processInfo.environment["CONDUIT_SIM_VERBOSE"] != nil {
                print(simulation.summary + " dispatches=\(simulation.dispatches) overlapsSeen=\(simulation.violations.count)\n  " + simulation.trace.joined(separator: "\n  "))
            }
            if !simulation.violations.isEmpty {
                failures.append("\(simulation.summary)\n  " + simulation.violations.prefix(5).joined(separator: "\n  ") + "\n  replay: CONDUIT_SIM_SEED=\(seed) swift test --filter SimulationTests")
                if failures.count >= 3 { break }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// A one-way cut (worker → coordinator) of the worker running a long step: the coordinator
    /// stops hearing it and sends the step elsewhere after 10 s, while the worker still hears the
    /// coordinator. The worker must have fenced its attempt first. A worker whose lease outlasts
    /// the coordinator's timeout (14 s) shows what the check catches.
    @Test func aOneWayCutNeverLetsTwoAttemptsRunAtOnce() async throws {
        let fenced = try Simulation(seed: 7, root: Self.root, script: .init(stepMilliseconds: 30_000, workerLeaseMilliseconds: 8000, cutAt: 2000, cutMilliseconds: 60_000))
        try await fenced.run()
        #expect(fenced.violations.isEmpty, "\(fenced.summary): \(fenced.violations)")
        #expect(fenced.dispatches >= 2, "the step must have been sent to another worker: \(fenced.trace)")

        let unfenced = try Simulation(seed: 7, root: Self.root, script: .init(stepMilliseconds: 30_000, workerLeaseMilliseconds: 14_000, cutAt: 2000, cutMilliseconds: 60_000))
        try await unfenced.run()
        #expect(unfenced.violations.contains { $0.contains("runs twice at once") }, "a lease longer than the coordinator's timeout must show as overlap: \(unfenced.violations)")
    }
}
