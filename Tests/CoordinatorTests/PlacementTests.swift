@testable import Coordinator
import TestKit
import Testing

@Suite struct PlacementTests {
    static func gpus(_ memories: [Int64]) -> [WorkerCapacity.GPU] {
        memories.enumerated().map { WorkerCapacity.GPU(index: $0.offset, memoryBytes: $0.element << 30) }
    }

    @Test func gpuStepsGetDistinctDevicesAndWaitForAFreeOne() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "g", capacity: WorkerCapacity(labels: ["gpu"], slots: 8, cores: 8, gpus: Self.gpus([16, 16]))))
        let one = Requirement(label: "gpu", gpus: 1)
        #expect(scheduler.on(.enqueue(.init(attemptID: "a", need: one))) == [.dispatch(attemptID: "a", workerID: "g", gpuDevices: [0])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "b", need: one))) == [.dispatch(attemptID: "b", workerID: "g", gpuDevices: [1])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "c", need: one))) == [], "both devices are leased")
        #expect(scheduler.waitingReason(one) == "waiting: every worker that can take it is busy")
        #expect(scheduler.on(.remove(attemptID: "a")) == [.dispatch(attemptID: "c", workerID: "g", gpuDevices: [0])], "a's device is free again")
        #expect(scheduler.workers["g"]?.leasedGPUs == [0: "c", 1: "b"])
    }

    @Test func theSmallestDeviceWithEnoughMemoryIsLeased() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "g", capacity: WorkerCapacity(slots: 4, cores: 4, gpus: Self.gpus([80, 16, 40]))))
        let big = Requirement(gpus: 1, gpuMemoryBytes: 32 << 30)
        #expect(scheduler.on(.enqueue(.init(attemptID: "a", need: big))) == [.dispatch(attemptID: "a", workerID: "g", gpuDevices: [2])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "b", need: big))) == [.dispatch(attemptID: "b", workerID: "g", gpuDevices: [0])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "c", need: big))) == [], "the 16 GiB device is too small")
        #expect(scheduler.on(.enqueue(.init(attemptID: "d", need: Requirement(gpus: 1)))) == [.dispatch(attemptID: "d", workerID: "g", gpuDevices: [1])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "two", need: Requirement(gpus: 2)))) == [])
    }

    @Test func aStepNoWorkerCanTakeWaitsWithAReason() {
        var scheduler = Scheduler()
        let need = Requirement(label: "gpu-cluster", gpus: 1)
        #expect(scheduler.on(.enqueue(.init(attemptID: "train", need: need))) == [])
        #expect(scheduler.waitingReason(need) == "waiting: no worker connected")
        _ = scheduler.on(.workerJoined(id: "cpu", capacity: WorkerCapacity(labels: ["cpu-highmem"], slots: 4, cores: 4)))
        #expect(scheduler.waitingReason(need) == "waiting: needs gpu≥1 with label gpu-cluster; no such worker connected")
        _ = scheduler.on(.workerJoined(id: "wrong-label", capacity: WorkerCapacity(labels: ["other"], slots: 1, gpus: Self.gpus([16]))))
        #expect(scheduler.queue.map(\.attemptID) == ["train"])
        let placed = scheduler.on(.workerJoined(id: "gpu", capacity: WorkerCapacity(labels: ["gpu-cluster"], slots: 1, gpus: Self.gpus([16]))))
        #expect(placed == [.dispatch(attemptID: "train", workerID: "gpu", gpuDevices: [0])])
        #expect(Requirement(cpuMillicores: 4000, memoryBytes: 16 << 30).summary == "cpu≥4, memory≥16 GiB")
        #expect(Requirement(label: "highmem").summary == "a worker with label highmem")
        #expect(Requirement(cpuMillicores: 500).summary == "cpu≥0.5")
    }

    @Test func coresAndMemoryAreNeverOverCommitted() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "w", capacity: WorkerCapacity(slots: 8, cores: 8, memoryBytes: 32 << 30)))
        let heavy = Requirement(cpuMillicores: 4000, memoryBytes: 20 << 30)
        #expect(scheduler.on(.enqueue(.init(attemptID: "a", need: heavy))).count == 1)
        #expect(scheduler.on(.enqueue(.init(attemptID: "b", need: heavy))) == [], "memory: 20 + 20 > 32 GiB")
        #expect(scheduler.on(.enqueue(.init(attemptID: "c", need: Requirement(cpuMillicores: 4000)))).count == 1)
        #expect(scheduler.on(.enqueue(.init(attemptID: "d", need: Requirement()))) == [], "cores: 8 of 8 taken")
        #expect(scheduler.workers["w"]?.usedCPU == 8000 && scheduler.workers["w"]?.usedMemory == 20 << 30)
        _ = scheduler.on(.remove(attemptID: "a"))
        #expect(scheduler.placements["b"] == "w", "b, first in line, fits once a is gone")
    }

    @Test func cpuStepsStayOffGPUWorkersWhileCPUWorkersHaveRoom() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "gpu", capacity: WorkerCapacity(slots: 4, cores: 4, gpus: Self.gpus([16]))))
        _ = scheduler.on(.workerJoined(id: "cpu", capacity: WorkerCapacity(slots: 2, cores: 2)))
        var placed: [String: String] = [:]
        for index in 0..<3 {
            for case .dispatch(let attempt, let worker, _) in scheduler.on(.enqueue(.init(attemptID: "s\(index)"))) { placed[attempt] = worker }
        }
        #expect(placed == ["s0": "cpu", "s1": "cpu", "s2": "gpu"], "the third goes to the GPU worker only because the CPU worker is full")
        #expect(scheduler.on(.enqueue(.init(attemptID: "t", need: Requirement(gpus: 1)))) == [.dispatch(attemptID: "t", workerID: "gpu", gpuDevices: [0])])
    }

    @Test func theWorkerHoldingTheMostInputBytesIsPreferred() {
        var scheduler = Scheduler()
        for id in ["a", "b", "c"] { _ = scheduler.on(.workerJoined(id: id, capacity: WorkerCapacity(slots: 2, cores: 2))) }
        _ = scheduler.on(.holds(workerID: "b", artifacts: ["small"]))
        _ = scheduler.on(.holds(workerID: "c", artifacts: ["large"]))
        let inputs = [Scheduler.Input(artifact: "small", bytes: 10), Scheduler.Input(artifact: "large", bytes: 1 << 30)]
        #expect(scheduler.on(.enqueue(.init(attemptID: "x", inputs: inputs))) == [.dispatch(attemptID: "x", workerID: "c", gpuDevices: [])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "y", inputs: inputs))) == [.dispatch(attemptID: "y", workerID: "c", gpuDevices: [])])
        #expect(scheduler.on(.enqueue(.init(attemptID: "z", inputs: inputs))) == [.dispatch(attemptID: "z", workerID: "b", gpuDevices: [])], "c is full; b holds some")
        _ = scheduler.on(.workerLeft(id: "c"))
        #expect(scheduler.on(.enqueue(.init(attemptID: "w", inputs: [Scheduler.Input(artifact: "large", bytes: 1)]))).count == 1)
    }

    @Test func aLargeStepIsNotStarvedByAStreamOfSmallOnes() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "w", capacity: WorkerCapacity(slots: 4, cores: 4)))
        for index in 0..<4 { _ = scheduler.on(.enqueue(.init(attemptID: "small\(index)"))) }
        #expect(scheduler.on(.enqueue(.init(attemptID: "big", need: Requirement(cpuMillicores: 4000)))) == [])
        #expect(scheduler.kept.isEmpty, "small steps may still use the free cores")
        // A stream of small steps, one finishing as the next arrives.
        var next = 4
        var overtook = 0
        var bigPlacedAt: Int?
        for finished in 0..<60 where bigPlacedAt == nil {
            _ = scheduler.on(.enqueue(.init(attemptID: "small\(next)")))
            next += 1
            for case .dispatch(let id, _, _) in scheduler.on(.remove(attemptID: "small\(finished)")) {
                if id == "big" { bigPlacedAt = finished } else { overtook += 1 }
            }
        }
        #expect(bigPlacedAt != nil, "the big step runs once the worker is kept for it and drains")
        #expect(overtook <= Scheduler.overtakeLimit, "at most \(Scheduler.overtakeLimit) small steps overtake it, found \(overtook)")
        #expect(overtook == Scheduler.overtakeLimit, "free cores are used until then")
    }

    @Test func leasesEndWithTheirWorkerAndReattachedAttemptsKeepTheirDevices() {
        var scheduler = Scheduler()
        let capacity = WorkerCapacity(slots: 2, cores: 2, gpus: Self.gpus([16, 16]))
        _ = scheduler.on(.workerJoined(id: "g", capacity: capacity, holding: [Scheduler.Held(attemptID: "old", need: Requirement(gpus: 1), gpuDevices: [1])]))
        #expect(scheduler.on(.enqueue(.init(attemptID: "new", need: Requirement(gpus: 1)))) == [.dispatch(attemptID: "new", workerID: "g", gpuDevices: [0])])
        #expect(scheduler.on(.workerLeft(id: "g")) == [.lost(attemptID: "new", workerID: "g"), .lost(attemptID: "old", workerID: "g")])
        _ = scheduler.on(.enqueue(.init(attemptID: "again", need: Requirement(gpus: 2))))
        #expect(scheduler.on(.workerJoined(id: "g", capacity: capacity)) == [.dispatch(attemptID: "again", workerID: "g", gpuDevices: [0, 1])])
    }

    /// Random worker inventories, step mixes, joins, leaves, drains and completions. After every
    /// event: no GPU leased twice, no worker over its slots, cores, memory or GPUs, every lease on
    /// a device with enough memory, a CPU step on a GPU worker only when no CPU worker could take
    /// it, attempts asking the same placed in the order they were queued; and at the end, with the workers staying, every step some worker could run is placed.
    @Test(arguments: 0..<300)
    func randomInventoriesAndStepMixesKeepThePlacementRules(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var scheduler = Scheduler()
        var capacities: [String: WorkerCapacity] = [:]
        var needs: [String: Requirement] = [:]
        var placed: [String: (worker: String, gpus: [Int])] = [:]
        var next = 0
        let labels = [nil, "gpu", "highmem"]
        func randomCapacity() -> WorkerCapacity {
            let gpuMemories: [Int64] = Bool.random(using: &random) ? [] : (0..<Int.random(in: 1...4, using: &random)).map { _ in [8, 16, 40, 80].randomElement(using: &random)! }
            let label = labels.randomElement(using: &random)!
            return WorkerCapacity(
                labels: label.map { [$0] } ?? [], slots: Int.random(in: 1...6, using: &random), cores: Int.random(in: 1...8, using: &random),
                memoryBytes: Int64.random(in: 1...64, using: &random) << 30, gpus: Self.gpus(gpuMemories)
            )
        }
        func randomNeed() -> Requirement {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return Requirement()
            case 1: return Requirement(label: labels.randomElement(using: &random)!, cpuMillicores: Int.random(in: 1...6, using: &random) * 500)
            case 2: return Requirement(memoryBytes: Int64.random(in: 1...48, using: &random) << 30)
            default:
                return Requirement(label: Bool.random(using: &random) ? "gpu" : nil, gpus: Int.random(in: 1...3, using: &random), gpuMemoryBytes: Int64([0, 16, 40].randomElement(using: &random)!) << 30)
            }
        }
        func apply(_ actions: [Scheduler.Action], step: Int) {
            for action in actions {
                switch action {
                case .dispatch(let attempt, let worker, let gpus):
                    #expect(placed[attempt] == nil, "seed \(seed) step \(step): \(attempt) placed twice")
                    let need = needs[attempt]!
                    let capacity = capacities[worker]!
                    #expect(capacity.accepts(need.label) && gpus.count == need.gpus, "seed \(seed): \(attempt) on \(worker) with \(gpus)")
                    for gpu in gpus {
                        #expect(capacity.gpus.first { $0.index == gpu }.map { $0.memoryBytes >= need.gpuMemoryBytes } == true, "seed \(seed): device \(gpu) too small or absent")
                    }
                    if need.gpus == 0 && !capacity.gpus.isEmpty {
                        let cpuWorkerFits = scheduler.workers.contains { id, candidate in
                            candidate.capacity.gpus.isEmpty && id != worker && !scheduler.kept.contains(id) && candidate.fits(need)
                        }
                        #expect(!cpuWorkerFits, "seed \(seed): CPU step \(attempt) on GPU worker \(worker) while a CPU worker had room")
                    }
                    placed[attempt] = (worker, gpus)
                case .lost(let attempt, _):
                    placed[attempt] = nil
                }
            }
            // In submission order: nothing placed while an older attempt of the same kind waits.
            let waiting = scheduler.queue
            for case .dispatch(let attempt, _, _) in actions {
                let number = Int(attempt.dropFirst())!
                #expect(!waiting.contains { Int($0.attemptID.dropFirst())! < number && $0.need == needs[attempt]! },
                        "seed \(seed) step \(step): \(attempt) placed before an older attempt asking the same")
            }
            // Leases and totals, from the placements seen.
            var leased: [String: Set<Int>] = [:]
            var used: [String: (slots: Int, cpu: Int, memory: Int64)] = [:]
            for (attempt, where_) in placed {
                for gpu in where_.gpus {
                    #expect(leased[where_.worker, default: []].insert(gpu).inserted, "seed \(seed) step \(step): GPU \(gpu) of \(where_.worker) leased twice")
                }
                let need = needs[attempt]!
                let total = used[where_.worker] ?? (0, 0, 0)
                used[where_.worker] = (total.slots + 1, total.cpu + need.cpuMillicores, total.memory + need.memoryBytes)
            }
            for (worker, total) in used {
                let capacity = capacities[worker]!
                #expect(total.slots <= capacity.slots && total.cpu <= capacity.cpuMillicores && total.memory <= capacity.memoryBytes, "seed \(seed) step \(step): \(worker) over capacity")
            }
        }
        for step in 0..<250 {
            switch Int.random(in: 0..<12, using: &random) {
            case 0, 1:
                let id = "w\(Int.random(in: 0..<6, using: &random))"
                if scheduler.workers[id] == nil {
                    capacities[id] = randomCapacity()
                    apply(scheduler.on(.workerJoined(id: id, capacity: capacities[id]!)), step: step)
                }
            case 2:
                if let id = scheduler.workers.keys.sorted().randomElement(using: &random) { apply(scheduler.on(.workerLeft(id: id)), step: step) }
            case 3, 4, 5, 6:
                next += 1
                let id = "a\(next)"
                needs[id] = randomNeed()
                apply(scheduler.on(.enqueue(.init(attemptID: id, need: needs[id]!))), step: step)
            default:
                if let attempt = placed.keys.sorted().randomElement(using: &random) {
                    placed[attempt] = nil
                    apply(scheduler.on(.remove(attemptID: attempt)), step: step)
                }
            }
        }
        // Let everything placed finish, again and again: whatever some worker could run gets placed.
        var rounds = 0
        while !placed.isEmpty && rounds < 1000 {
            rounds += 1
            let attempt = placed.keys.sorted()[0]
            placed[attempt] = nil
            apply(scheduler.on(.remove(attemptID: attempt)), step: 1000 + rounds)
        }
        for pending in scheduler.queue {
            #expect(!scheduler.workers.values.contains { $0.capacity.couldEverRun(pending.need) }, "seed \(seed): \(pending.attemptID) could run but was never placed")
        }
    }
}
