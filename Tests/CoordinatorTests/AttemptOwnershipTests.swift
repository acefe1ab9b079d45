import Coordinator
import TestKit
import Testing

/// The ownership decision: an attempt is kept only by the identity it was dispatched to.
@Suite struct AttemptOwnershipTests {
    let alice = WorkerIdentity.key("A")
    let mallory = WorkerIdentity.key("M")

    @Test func theHolderConfirmsAndTheOwnersNewConnectionReattaches() {
        let held = AttemptOwnership.Known(isCurrent: true, isCommitted: false, owner: alice, holder: "alice")
        #expect(AttemptOwnership.decide(held, claimant: alice, workerID: "alice") == .confirm)
        let orphan = AttemptOwnership.Known(isCurrent: true, isCommitted: false, owner: alice, holder: nil)
        #expect(AttemptOwnership.decide(orphan, claimant: alice, workerID: "alice") == .reattach)
        // A restarted worker replaces its own earlier connection.
        #expect(AttemptOwnership.decide(held, claimant: alice, workerID: "alice-new") == .reattach)
    }

    @Test func anotherKeyIsRefusedWhateverItCallsItself() {
        let orphan = AttemptOwnership.Known(isCurrent: true, isCommitted: false, owner: alice, holder: nil)
        #expect(AttemptOwnership.decide(orphan, claimant: mallory, workerID: "alice") == .refused(owner: alice))
        let held = AttemptOwnership.Known(isCurrent: true, isCommitted: false, owner: alice, holder: "alice")
        // Even under the holder's registration id (ids can be reused; keys cannot).
        #expect(AttemptOwnership.decide(held, claimant: mallory, workerID: "alice") == .refused(owner: alice))
        // A plain-text identity never matches a key, even with the same name.
        #expect(AttemptOwnership.decide(orphan, claimant: .unauthenticated(name: "A"), workerID: "A") == .refused(owner: alice))
        let unknownOwner = AttemptOwnership.Known(isCurrent: true, isCommitted: false, owner: nil, holder: nil)
        #expect(AttemptOwnership.decide(unknownOwner, claimant: alice, workerID: "alice") == .refused(owner: nil))
    }

    @Test func attemptsNoLongerCurrentAreCanceledUnlessRecorded() {
        #expect(AttemptOwnership.decide(.notCurrent(committed: false), claimant: alice, workerID: "a") == .unwanted)
        #expect(AttemptOwnership.decide(.notCurrent(committed: true), claimant: mallory, workerID: "m") == .recorded)
    }

    @Test func identitiesRoundTripThroughTheirStoredForm() {
        for identity in [WorkerIdentity.key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"), .unauthenticated(name: "gpu-1"), .unauthenticated(name: "key:x")] {
            #expect(WorkerIdentity(stored: identity.stored) == identity)
        }
        #expect(WorkerIdentity(stored: "gpu-1") == nil)
    }

    /// Random histories of dispatches, disconnections, reconnections and claims by honest and lying
    /// connections, carried out as the coordinator does (bind on keep, unbind on disconnect): no
    /// attempt is ever kept by, or bound to, a connection whose identity is not its owner's.
    @Test(arguments: 0..<200) func noClaimEverBindsAnAttemptToAnotherIdentity(seed: Int) {
        var random = SeededGenerator(seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let identities: [WorkerIdentity] = [.key("A"), .key("B"), .key("M"), .unauthenticated(name: "A")]
        // connection id → identity
        var connections: [String: WorkerIdentity] = [:]
        // attempt → (owner, holder, current, committed)
        var attempts: [String: (owner: WorkerIdentity, holder: String?, current: Bool, committed: Bool)] = [:]
        var nextAttempt = 0
        for _ in 0..<300 {
            switch Int.random(in: 0..<6, using: &random) {
            case 0:
                // A connection registers (ids are reused on purpose: a name is not an identity).
                let id = "w\(Int.random(in: 0..<3, using: &random))"
                for (key, value) in attempts where value.holder == id { attempts[key]!.holder = nil }
                connections[id] = identities.randomElement(using: &random)!
            case 1:
                // A connection drops: its attempts become orphans.
                guard let id = connections.keys.sorted().randomElement(using: &random) else { continue }
                connections[id] = nil
                for (key, value) in attempts where value.holder == id { attempts[key]!.holder = nil }
            case 2:
                // Dispatch to a connected worker: the attempt belongs to its identity.
                guard let id = connections.keys.sorted().randomElement(using: &random) else { continue }
                nextAttempt += 1
                attempts["a\(nextAttempt)"] = (connections[id]!, id, true, false)
            case 3:
                // An attempt ends, or is superseded.
                guard let key = attempts.keys.sorted().randomElement(using: &random) else { continue }
                attempts[key]!.current = false
                attempts[key]!.holder = nil
                attempts[key]!.committed = Bool.random(using: &random)
            default:
                // Any connection names any attempts, its own or not (and some never dispatched).
                guard let id = connections.keys.sorted().randomElement(using: &random) else { continue }
                let claimant = connections[id]!
                var named = Array(attempts.keys.sorted().shuffled(using: &random).prefix(3))
                named.append("a\(nextAttempt + 1)")
                for attemptID in named {
                    let known = attempts[attemptID].map {
                        AttemptOwnership.Known(isCurrent: $0.current, isCommitted: $0.committed, owner: $0.owner, holder: $0.holder)
                    } ?? .notCurrent(committed: false)
                    let decision = AttemptOwnership.decide(known, claimant: claimant, workerID: id)
                    if decision.keeps {
                        #expect(attempts[attemptID]?.owner == claimant, "seed \(seed): \(attemptID) kept by \(claimant)")
                        #expect(attempts[attemptID]?.current == true, "seed \(seed): a finished attempt was kept")
                        attempts[attemptID]!.holder = id
                    }
                    if case .refused = decision { #expect(attempts[attemptID]?.owner != claimant) }
                    if known.isCurrent, attempts[attemptID]?.owner == claimant { #expect(decision.keeps, "seed \(seed): the owner was refused") }
                }
            }
            for (attemptID, attempt) in attempts {
                if let holder = attempt.holder {
                    #expect(connections[holder] == attempt.owner, "seed \(seed): \(attemptID) bound to \(holder), not its owner's identity")
                }
            }
        }
    }
}
