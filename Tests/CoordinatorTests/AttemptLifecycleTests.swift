import Coordinator
import TestKit
import Testing

/// The attempt lifecycle core: leases by identity, orphans, re-attachment and expiry.
@Suite struct AttemptLifecycleTests {
    let alice = WorkerIdentity.key("A")
    let mallory = WorkerIdentity.key("M")
    let lost = AttemptLifecycle.Orphan(workerName: "gpu-1", failure: .workerLost, reason: "worker gpu-1 was lost")

    @Test func anOrphanIsReattachedByItsOwnerAndGivenUpWhenNobodyDoes() {
        var core = AttemptLifecycle(timeoutMilliseconds: 10_000)
        _ = core.on(.dispatched(attemptID: "r-1-1", workerID: "gpu-1", identity: alice, now: 0))
        _ = core.on(.dispatched(attemptID: "r-2-1", workerID: "gpu-1", identity: alice, now: 0))
        _ = core.on(.orphaned(attemptID: "r-1-1", orphan: lost, now: 1000))
        _ = core.on(.orphaned(attemptID: "r-2-1", orphan: lost, now: 1000))
        // Another key claims both: refused, and told to cancel them.
        let stolen = core.on(.claimed(attemptIDs: ["r-1-1", "r-2-1"], workerID: "m", identity: mallory, committed: [], now: 2000))
        #expect(stolen.filter { if case .refused = $0 { true } else { false } }.count == 2)
        #expect(stolen.filter { if case .cancel = $0 { true } else { false } }.count == 2)
        #expect(core.holder(of: "r-1-1") == nil)
        // The owner's new connection re-attaches one; the other runs out its lease.
        let back = core.on(.claimed(attemptIDs: ["r-1-1"], workerID: "gpu-1b", identity: alice, committed: [], now: 3000))
        #expect(back == [.reattach(attemptID: "r-1-1", workerID: "gpu-1b", previousHolder: nil, wasOrphan: true)])
        #expect(core.isHeld("r-1-1", by: "gpu-1b", identity: alice))
        #expect(core.on(.tick(now: 9999)).isEmpty)
        let expired = core.on(.tick(now: 10_000))
        #expect(expired == [.expired(attemptID: "r-2-1", holder: nil, workerName: "gpu-1", failure: .workerLost, reason: "worker gpu-1 was lost; nothing was heard of the attempt for 10 s")])
        #expect(core.on(.tick(now: 12_999)).isEmpty, "the re-attached lease counts from its re-attachment")
        #expect(core.on(.tick(now: 13_000)).count == 1)
        #expect(core.leases.isEmpty)
    }

    @Test func aHolderThatStopsConfirmingIsGivenUpAndToldToCancel() {
        var core = AttemptLifecycle(timeoutMilliseconds: 10_000)
        _ = core.on(.dispatched(attemptID: "a", workerID: "w", identity: alice, now: 0))
        _ = core.on(.confirmed(attemptID: "a", workerID: "w", now: 5000))
        _ = core.on(.confirmed(attemptID: "a", workerID: "other", now: 9000))  // not its holder: ignored
        #expect(core.on(.tick(now: 14_999)).isEmpty)
        #expect(core.on(.tick(now: 15_000)) == [.expired(attemptID: "a", holder: "w", workerName: "w", failure: .workerLost, reason: "worker w did not confirm the attempt for 10 s (its lease ran out)")])
    }

    @Test func attemptsThatEndedAreUnwantedUnlessTheirSuccessIsRecorded() {
        var core = AttemptLifecycle(timeoutMilliseconds: 10_000)
        _ = core.on(.dispatched(attemptID: "a", workerID: "w", identity: alice, now: 0))
        _ = core.on(.ended(attemptID: "a"))
        #expect(core.on(.claimed(attemptIDs: ["a"], workerID: "w", identity: alice, committed: ["a"], now: 1)).isEmpty)
        #expect(core.on(.claimed(attemptIDs: ["a"], workerID: "w", identity: alice, committed: [], now: 1))
            == [.cancel(attemptID: "a", workerID: "w", reason: "the coordinator no longer wants this attempt")])
        #expect(core.on(.tick(now: 100_000)).isEmpty)
    }

    /// Random histories of connections (three honest identities, one liar, registration ids
    /// reused), dispatches, confirmations from anyone, claims of any ids by anyone, losses, ends and
    /// ticks. After every event: a held lease is held by a connection of its owner's identity; a lease
    /// is given up once, only after its timeout without a confirmation from its owner, and never
    /// later than the first tick past it.
    @Test(arguments: 0..<300) func leasesStayWithTheirOwnersAndExpireExactlyOnce(seed: Int) {
        var random = SeededGenerator(seed: UInt64(seed) &* 0x2545_F491_4F6C_DD1D &+ 7)
        let timeout: Int64 = 10_000
        var core = AttemptLifecycle(timeoutMilliseconds: timeout)
        let identities: [WorkerIdentity] = [.key("A"), .key("B"), .key("C"), .key("M")]
        var connections: [String: WorkerIdentity] = [:]
        var touched: [String: Int64] = [:]  // attempt → the latest time its owner was heard of it
        var owners: [String: WorkerIdentity] = [:]
        var gone: Set<String> = []
        var now: Int64 = 0
        var next = 0
        func drop(_ id: String) {
            for (attemptID, lease) in core.leases where lease.holder == id {
                _ = core.on(.orphaned(attemptID: attemptID, orphan: .init(workerName: id, failure: .workerLost, reason: "lost"), now: now))
            }
            connections[id] = nil
        }
        for step in 0..<400 {
            now += Int64.random(in: 0...1500, using: &random)
            var actions: [AttemptLifecycle.Action] = []
            switch Int.random(in: 0..<8, using: &random) {
            case 0:
                let id = "w\(Int.random(in: 0..<4, using: &random))"
                drop(id)
                connections[id] = identities.randomElement(using: &random)!
            case 1:
                if let id = connections.keys.sorted().randomElement(using: &random) { drop(id) }
            case 2:
                guard let id = connections.keys.sorted().randomElement(using: &random) else { continue }
                next += 1
                owners["a\(next)"] = connections[id]!
                touched["a\(next)"] = now
                actions = core.on(.dispatched(attemptID: "a\(next)", workerID: id, identity: connections[id]!, now: now))
            case 3:
                guard let attemptID = core.leases.keys.sorted().randomElement(using: &random),
                      let id = connections.keys.sorted().randomElement(using: &random) else { continue }
                if core.isHeld(attemptID, by: id, identity: connections[id]!) { touched[attemptID] = now }
                actions = core.on(.confirmed(attemptID: attemptID, workerID: id, now: now))
            case 4:
                guard let id = connections.keys.sorted().randomElement(using: &random) else { continue }
                let named = (0..<3).map { _ in "a\(Int.random(in: 1...(next + 1), using: &random))" }
                for attemptID in named where owners[attemptID] == connections[id] && core.leases[attemptID] != nil { touched[attemptID] = now }
                actions = core.on(.claimed(attemptIDs: named, workerID: id, identity: connections[id]!, committed: [], now: now))
                for case .reattach(let attemptID, _, _, _) in actions {
                    #expect(owners[attemptID] == connections[id], "seed \(seed) step \(step): \(attemptID) re-attached to another identity")
                }
            case 5:
                if let attemptID = core.leases.keys.sorted().randomElement(using: &random) {
                    gone.insert(attemptID)
                    actions = core.on(.ended(attemptID: attemptID))
                }
            default:
                actions = core.on(.tick(now: now))
                for case .expired(let attemptID, _, _, _, _) in actions {
                    #expect(!gone.contains(attemptID), "seed \(seed) step \(step): \(attemptID) given up twice, or after it ended")
                    #expect(now - touched[attemptID]! >= timeout, "seed \(seed) step \(step): \(attemptID) given up \(now - touched[attemptID]!) ms after its owner was heard")
                    gone.insert(attemptID)
                }
                for (attemptID, _) in core.leases {
                    #expect(now - touched[attemptID]! < timeout, "seed \(seed) step \(step): \(attemptID) outlived its lease")
                }
            }
            for action in actions {
                if case .refused(let attemptID, _, let claimant, _) = action {
                    #expect(owners[attemptID] != claimant, "seed \(seed): the owner was refused")
                }
            }
            for (attemptID, lease) in core.leases {
                #expect(lease.owner == owners[attemptID])
                if let holder = lease.holder {
                    #expect(connections[holder] == lease.owner, "seed \(seed) step \(step): \(attemptID) held by \(holder), not by its owner's identity")
                }
            }
        }
    }
}
