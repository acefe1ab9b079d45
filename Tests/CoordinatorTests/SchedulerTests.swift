@testable import Coordinator
import TestKit
import Testing

@Suite struct SchedulerTests {
    @Test func queuedAttemptsWaitForAWorkerAndSpreadAcrossSlots() {
        var scheduler = Scheduler()
        #expect(scheduler.on(.enqueue(.init(attemptID: "a", label: nil))) == [])
        #expect(scheduler.waitingReason(label: nil) == "waiting: no worker connected")
        let placed = scheduler.on(.workerJoined(id: "w1", labels: [], slots: 1))
        #expect(placed == [.dispatch(attemptID: "a", workerID: "w1")])
        _ = scheduler.on(.enqueue(.init(attemptID: "b", label: nil)))
        #expect(scheduler.queue.map(\.attemptID) == ["b"])
        #expect(scheduler.on(.workerJoined(id: "w2", labels: [], slots: 1)) == [.dispatch(attemptID: "b", workerID: "w2")])
        _ = scheduler.on(.enqueue(.init(attemptID: "c", label: nil)))
        #expect(scheduler.on(.remove(attemptID: "a")) == [.dispatch(attemptID: "c", workerID: "w1")])
    }

    @Test func labelledWorkersTakeOnlyTheirLabelsUnlabelledTakeAll() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "gpu", labels: ["gpu"], slots: 1))
        #expect(scheduler.on(.enqueue(.init(attemptID: "prep", label: "cpu-highmem"))) == [])
        #expect(scheduler.waitingReason(label: "cpu-highmem").contains("no such worker"))
        #expect(scheduler.on(.enqueue(.init(attemptID: "train", label: "gpu"))) == [.dispatch(attemptID: "train", workerID: "gpu")])
        #expect(scheduler.on(.workerJoined(id: "any", labels: [], slots: 2)) == [.dispatch(attemptID: "prep", workerID: "any")])
    }

    @Test func aLeavingWorkerReportsItsAttemptsLost() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "w", labels: [], slots: 2))
        _ = scheduler.on(.enqueue(.init(attemptID: "a", label: nil)))
        _ = scheduler.on(.enqueue(.init(attemptID: "b", label: nil)))
        #expect(scheduler.on(.workerLeft(id: "w")) == [.lost(attemptID: "a", workerID: "w"), .lost(attemptID: "b", workerID: "w")])
        #expect(scheduler.placements.isEmpty)
    }

    @Test func duplicateEnqueueIsIgnored() {
        var scheduler = Scheduler()
        _ = scheduler.on(.enqueue(.init(attemptID: "a", label: nil)))
        _ = scheduler.on(.enqueue(.init(attemptID: "a", label: nil)))
        #expect(scheduler.queue.count == 1)
    }

    @Test func aFreeSlotIsPreferredToAPlaceToWait() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "a", labels: [], slots: 1))
        _ = scheduler.on(.workerJoined(id: "b", labels: [], slots: 1))
        _ = scheduler.on(.setAhead(id: "a", count: 1))
        _ = scheduler.on(.setAhead(id: "b", count: 1))
        var placed: [String: String] = [:]
        for index in 0..<5 {
            for case .dispatch(let attempt, let worker, _) in scheduler.on(.enqueue(.init(attemptID: "s\(index)", label: nil))) {
                placed[attempt] = worker
            }
        }
        // One running on each worker first, then one waiting on each; the fifth stays queued.
        #expect(placed["s0"] != placed["s1"])
        #expect(placed["s2"] != nil && placed["s3"] != nil && placed["s2"] != placed["s3"])
        #expect(placed["s4"] == nil && scheduler.queue.map(\.attemptID) == ["s4"])
        // A worker whose steps are long takes nothing ahead: s4 waits for a slot to free.
        _ = scheduler.on(.setAhead(id: "a", count: 0))
        _ = scheduler.on(.setAhead(id: "b", count: 0))
        let afterOne = scheduler.on(.remove(attemptID: "s0"))
        #expect(afterOne.isEmpty, "worker \(placed["s0"]!) still holds s2 or s3 for its only slot")
        _ = scheduler.on(.remove(attemptID: placed["s0"] == placed["s2"] ? "s2" : "s3"))
        #expect(scheduler.queue.isEmpty, "a slot freed up: s4 placed")
    }

    @Test func aLongStepsWorkerIsNotGivenAttemptsToHold() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "a", labels: [], slots: 1))
        _ = scheduler.on(.workerJoined(id: "b", labels: [], slots: 1))
        _ = scheduler.on(.enqueue(.init(attemptID: "long1", label: nil)))
        _ = scheduler.on(.enqueue(.init(attemptID: "long2", label: nil)))
        let third = scheduler.on(.enqueue(.init(attemptID: "long3", label: nil)))
        #expect(third.isEmpty, "no worker takes attempts ahead until it has run short steps")
        let freed = scheduler.on(.remove(attemptID: "long2"))
        #expect(freed == [.dispatch(attemptID: "long3", workerID: "b")], "the third goes to whichever worker frees first")
    }

    /// Random joins, leaves, enqueues and completions: no worker over capacity, every attempt
    /// placed at most once at a time, FIFO among eligible attempts, nothing lost.
    @Test(arguments: 0..<200)
    func randomEventsKeepTheInvariants(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var scheduler = Scheduler()
        var known: Set<String> = []
        var running: [String: String] = [:]
        var next = 0
        for _ in 0..<300 {
            var actions: [Scheduler.Action] = []
            switch Int.random(in: 0..<11, using: &random) {
            case 10:
                if let id = scheduler.workers.keys.sorted().randomElement(using: &random) {
                    actions = scheduler.on(.setAhead(id: id, count: Int.random(in: 0...2, using: &random)))
                }
            case 0:
                let id = "w\(Int.random(in: 0..<4, using: &random))"
                let labels: Set<String> = Bool.random(using: &random) ? [] : ["gpu"]
                if scheduler.workers[id] == nil { actions = scheduler.on(.workerJoined(id: id, labels: labels, slots: Int.random(in: 1...3, using: &random))) }
            case 1:
                if let id = scheduler.workers.keys.sorted().randomElement(using: &random) { actions = scheduler.on(.workerLeft(id: id)) }
            case 2, 3, 4, 5:
                next += 1
                known.insert("a\(next)")
                actions = scheduler.on(.enqueue(.init(attemptID: "a\(next)", label: Bool.random(using: &random) ? nil : "gpu")))
            default:
                if let attempt = running.keys.sorted().randomElement(using: &random) {
                    running[attempt] = nil
                    known.remove(attempt)
                    actions = scheduler.on(.remove(attemptID: attempt))
                }
            }
            for action in actions {
                switch action {
                case .dispatch(let attempt, let worker, _):
                    #expect(running[attempt] == nil, "seed \(seed): \(attempt) placed twice")
                    running[attempt] = worker
                case .lost(let attempt, _):
                    running[attempt] = nil
                    known.remove(attempt)
                }
            }
            // A worker is never given more than its slots plus its places to wait. (Lowering
            // `ahead` leaves what it already holds; it then gets nothing until below the bound.)
            for case .dispatch(_, let id, _) in actions {
                let slots = scheduler.workers[id]!
                #expect(slots.running.count <= slots.capacity.slots + slots.ahead, "seed \(seed): \(id) over capacity")
            }
            let queued = Set(scheduler.queue.map(\.attemptID))
            #expect(queued.union(running.keys) == known, "seed \(seed): an attempt was lost")
            for pending in scheduler.queue {
                #expect(!scheduler.workers.values.contains { $0.room > 0 && $0.capacity.accepts(pending.label) }, "seed \(seed): \(pending.attemptID) placeable but queued")
            }
        }
    }
}
