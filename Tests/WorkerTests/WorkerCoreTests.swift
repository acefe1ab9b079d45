import Protocol
import TestKit
import Testing
import Worker

/// The worker's pure core: registration, leases and fencing, reports re-sent until acknowledged,
/// the slot queue and draining. Scenarios first, then random histories checked against the rules.
@Suite struct WorkerCoreTests {
    static func at(_ milliseconds: Int64) -> WorkerCore.Now { WorkerCore.Now(monotonic: milliseconds, wall: 1_700_000_000_000 + milliseconds) }

    static func dispatch(_ id: String, lease: UInt64 = 0) -> Payload {
        .dispatch(Dispatch(attemptID: id, runID: "r", step: "s", command: [], leaseSequence: lease))
    }

    static func finished(_ id: String, _ outcome: AttemptOutcome = .succeeded) -> AttemptFinished {
        AttemptFinished(attemptID: id, outcome: outcome, exitCode: outcome == .succeeded ? 0 : 1, startedAt: 0, endedAt: 1)
    }

    /// A registered core at time 0.
    static func registered(slots: Int = 1, drain: Int64 = 60_000) -> WorkerCore {
        var core = WorkerCore(settings: WorkerCore.Settings(slots: slots, drainMilliseconds: drain))
        _ = core.on(.started(at(0)))
        _ = core.on(.received(.welcome(Welcome(workerID: "w-1", heartbeatIntervalMilliseconds: 1000)), at(0)))
        return core
    }

    static func started(_ actions: [WorkerCore.Action]) -> [String] {
        actions.compactMap { if case .start(let dispatch) = $0 { dispatch.attemptID } else { nil } }
    }

    static func reports(_ actions: [WorkerCore.Action]) -> [AttemptFinished] {
        actions.compactMap { if case .send(.attemptFinished(let report)) = $0 { report } else { nil } }
    }

    @Test func attemptsBeyondTheSlotsWaitAndStartInOrderAsSlotsFree() {
        var core = Self.registered(slots: 2)
        var startedIDs: [String] = []
        for id in ["a", "b", "c", "d"] { startedIDs += Self.started(core.on(.received(Self.dispatch(id), Self.at(10)))) }
        #expect(startedIDs == ["a", "b"])
        #expect(core.queue == ["c", "d"])
        #expect(Self.started(core.on(.received(Self.dispatch("c"), Self.at(11)))).isEmpty, "a repeated dispatch is one")
        #expect(core.heldAttempts == ["a", "b", "c", "d"])
        #expect(!core.mayLaunch("c"), "a waiting attempt has no slot yet")
        let ended = core.on(.executionEnded(Self.finished("b"), Self.at(20)))
        #expect(Self.started(ended) == ["c"])
        #expect(Self.reports(ended).map(\.attemptID) == ["b"])
        #expect(core.mayLaunch("c"))
        #expect(Self.started(core.on(.executionEnded(Self.finished("a", .failed), Self.at(30)))) == ["d"])
        #expect(core.activeCount == 2)
        _ = core.on(.received(.attemptAcknowledged(AttemptAcknowledged(attemptID: "b", accepted: true)), Self.at(40)))
        _ = core.on(.executionEnded(Self.finished("c"), Self.at(41)))
        #expect(Self.started(core.on(.received(Self.dispatch("b"), Self.at(50)))).isEmpty, "a late duplicate of an ended attempt's dispatch runs nothing")
        #expect(!core.holds("b"))
    }

    @Test func aCanceledAttemptIsStoppedOrNeverStartedAndReportedCanceled() {
        var core = Self.registered(slots: 1)
        _ = core.on(.received(Self.dispatch("a"), Self.at(1)))
        _ = core.on(.received(Self.dispatch("b"), Self.at(1)))
        let waiting = core.on(.received(.cancel(Cancel(attemptID: "b", reason: "run canceled")), Self.at(2)))
        #expect(Self.reports(waiting).map(\.outcome) == [.canceled], "a waiting attempt ends at once")
        #expect(!core.holds("b"))
        let running = core.on(.received(.cancel(Cancel(attemptID: "a", reason: "run canceled")), Self.at(3)))
        #expect(running.contains(.stop(attemptID: "a", immediately: false)))
        #expect(!core.mayLaunch("a") && core.wasCanceled("a"))
        // Its process died of the SIGTERM: it is reported canceled, not failed.
        let ended = core.on(.executionEnded(Self.finished("a", .failed), Self.at(4)))
        #expect(Self.reports(ended).map(\.outcome) == [.canceled])
    }

    @Test func reportsAreSentAgainUntilAcknowledgedAndAllAfterRegisteringAgain() {
        var core = Self.registered()
        _ = core.on(.received(Self.dispatch("a"), Self.at(0)))
        _ = core.on(.received(.heartbeat(Heartbeat(runningAttempts: ["a"], sequence: 1)), Self.at(0)))
        #expect(Self.reports(core.on(.executionEnded(Self.finished("a"), Self.at(100)))).count == 1)
        #expect(Self.reports(core.on(.tick(Self.at(600)))).isEmpty, "not before a heartbeat interval")
        #expect(Self.reports(core.on(.tick(Self.at(1100)))).map(\.attemptID) == ["a"])
        #expect(core.heldAttempts == ["a"], "an unacknowledged report is still held")
        // The coordinator restarted: it asks for a hello, then welcomes the worker again.
        let again = core.on(.received(.refuse(Refuse(reason: "unknown", helloRequired: true)), Self.at(1200)))
        #expect(again.contains(.sendHello(heldAttempts: ["a"])))
        #expect(again.contains(.abandonTransfers(reason: "the coordinator no longer knows this worker", keepingUploads: true)))
        let welcome = core.on(.received(.welcome(Welcome(workerID: "w-2", heartbeatIntervalMilliseconds: 1000)), Self.at(1300)))
        #expect(Self.reports(welcome).map(\.attemptID) == ["a"])
        #expect(welcome.contains(.resumeUploads))
        _ = core.on(.received(.attemptAcknowledged(AttemptAcknowledged(attemptID: "a", accepted: true)), Self.at(1400)))
        #expect(Self.reports(core.on(.tick(Self.at(5000)))).isEmpty)
        #expect(core.heldAttempts.isEmpty)
    }

    @Test func aRejectedSuccessMakesTheWorkerUploadEverythingAgain() {
        var core = Self.registered()
        _ = core.on(.received(Self.dispatch("a"), Self.at(0)))
        _ = core.on(.executionEnded(Self.finished("a"), Self.at(1)))
        let rejected = core.on(.received(.attemptAcknowledged(AttemptAcknowledged(attemptID: "a", accepted: false, reason: "blob missing")), Self.at(2)))
        #expect(rejected.contains(.forgetCoordinatorBlobs))
    }

    @Test func anAttemptWhoseLeaseRunsOutIsFencedAndItsResultDiscardedOnce() {
        var core = Self.registered(slots: 1)
        _ = core.on(.tick(Self.at(0)))  // heartbeat 1, sent at 0
        _ = core.on(.received(Self.dispatch("a", lease: 1), Self.at(10)))
        _ = core.on(.received(Self.dispatch("b", lease: 1), Self.at(10)))
        // Renewed by an echo of heartbeat 1 only: the leases count from 0, for 8 s.
        _ = core.on(.received(.heartbeat(Heartbeat(runningAttempts: ["a", "b"], sequence: 1)), Self.at(500)))
        #expect(!core.on(.tick(Self.at(7999))).contains(.stop(attemptID: "a", immediately: true)))
        let fence = core.on(.tick(Self.at(8000)))
        #expect(fence.contains(.stop(attemptID: "a", immediately: true)), "killed at once, no grace")
        #expect(!core.holds("b"), "a waiting attempt is dropped")
        #expect(Self.started(fence).isEmpty, "no slot frees before the fenced process is gone")
        #expect(!core.mayLaunch("a"))
        let ended = core.on(.executionEnded(Self.finished("a"), Self.at(8100)))
        #expect(Self.reports(ended).map(\.outcome) == [.fenced], "its success is discarded")
        #expect(core.heldAttempts.isEmpty, "a fenced report is not kept")
        #expect(Self.reports(core.on(.tick(Self.at(20_000)))).isEmpty)
    }

    @Test func aLeaseCountsFromTheHeartbeatTheCoordinatorEchoes() {
        var core = Self.registered()
        // Heartbeat 1 went with the welcome, at 0.
        _ = core.on(.tick(Self.at(1000)))  // heartbeat 2 at 1000
        _ = core.on(.tick(Self.at(2000)))  // heartbeat 3 at 2000
        _ = core.on(.received(Self.dispatch("a", lease: 2), Self.at(5000)))
        #expect(core.leases.renewedAt["a"] == 1000)
        _ = core.on(.received(.heartbeat(Heartbeat(runningAttempts: ["a"], sequence: 3)), Self.at(5001)))
        #expect(core.leases.renewedAt["a"] == 2000)
        _ = core.on(.received(.heartbeat(Heartbeat(runningAttempts: ["a"], sequence: 999)), Self.at(5002)))
        #expect(core.leases.renewedAt["a"] == 2000, "an echo of a heartbeat never sent renews nothing")
        _ = core.on(.received(.welcome(Welcome(workerID: "w-1", heartbeatIntervalMilliseconds: 1000, leaseMilliseconds: 3000)), Self.at(5003)))
        #expect(core.leases.timeoutMilliseconds == 3000, "the coordinator sets the lease length")
    }

    @Test func aDispatchThatArrivesAfterItsLeaseRanOutNeverStarts() {
        var core = Self.registered()
        _ = core.on(.tick(Self.at(1000)))  // heartbeat 2 at 1000
        // Echoing heartbeat 2, but delivered 9 s later (the worker was stopped): the lease of 8 s is over.
        let late = core.on(.received(Self.dispatch("late", lease: 2), Self.at(10_000)))
        #expect(Self.started(late).isEmpty, "\(late)")
        #expect(core.leases.renewedAt["late"] == nil)
        // One in time starts.
        _ = core.on(.tick(Self.at(10_001)))  // heartbeat 3
        #expect(Self.started(core.on(.received(Self.dispatch("fresh", lease: 3), Self.at(10_050)))) == ["fresh"])
        // A copy of the late one, sent again, is not started either.
        #expect(Self.started(core.on(.received(Self.dispatch("late", lease: 3), Self.at(10_060)))).isEmpty)
    }

    @Test func silenceFromTheCoordinatorMeansRegisteringAgain() {
        var core = Self.registered()
        _ = core.on(.received(.heartbeat(Heartbeat(sequence: 0)), Self.at(1000)))
        #expect(!core.on(.tick(Self.at(11_000))).contains { if case .sendHello = $0 { true } else { false } })
        let silent = core.on(.tick(Self.at(11_001)))
        #expect(silent.contains(.sendHello(heldAttempts: [])))
        #expect(core.workerID == nil)
        #expect(!silent.contains { if case .send(.heartbeat) = $0 { true } else { false } }, "no heartbeat for a registration that is gone")
    }

    @Test func aRefusalIsFinal() {
        var core = Self.registered()
        _ = core.on(.received(Self.dispatch("a"), Self.at(1)))
        let refused = core.on(.received(.refuse(Refuse(reason: "name w is in use by another key")), Self.at(2)))
        #expect(refused.contains(.refused(reason: "name w is in use by another key")))
        #expect(core.refusal == "name w is in use by another key")
        #expect(Self.started(core.on(.received(Self.dispatch("b"), Self.at(3)))).isEmpty)
        #expect(core.on(.transportClosed) == [.stop(attemptID: "a", immediately: false)])
        #expect(!core.mayLaunch("a"), "a step still being prepared never launches once the worker is refused")
    }

    @Test func nothingStartsOnceTheConnectionClosed() {
        var core = Self.registered(slots: 1)
        _ = core.on(.received(Self.dispatch("a"), Self.at(1)))
        _ = core.on(.received(Self.dispatch("b"), Self.at(1)))
        #expect(core.mayLaunch("a"))
        _ = core.on(.transportClosed)
        #expect(!core.mayLaunch("a"))
        let ended = core.on(.executionEnded(Self.finished("a", .failed), Self.at(2)))
        #expect(Self.started(ended).isEmpty, "the waiting attempt is not started into a closed connection")
    }

    @Test func drainingHandsBackWhatWaitsFinishesWhatRunsAndLeaves() {
        var core = Self.registered(slots: 1, drain: 5000)
        _ = core.on(.received(Self.dispatch("a"), Self.at(0)))
        _ = core.on(.received(Self.dispatch("b"), Self.at(0)))
        let drain = core.on(.drainRequested(reason: "SIGTERM", announce: true, Self.at(100)))
        #expect(drain.contains(.send(.drain(Drain(reason: "SIGTERM")))))
        #expect(Self.reports(drain).map { "\($0.attemptID) \($0.outcome)" } == ["b handedBack"])
        let late = core.on(.received(Self.dispatch("c"), Self.at(200)))
        #expect(Self.reports(late).map(\.outcome) == [.handedBack] && Self.started(late).isEmpty)
        #expect(!core.on(.tick(Self.at(5099))).contains(.stop(attemptID: "a", immediately: false)))
        #expect(core.on(.tick(Self.at(5100))).contains(.stop(attemptID: "a", immediately: false)), "stopped at the deadline")
        let ended = core.on(.executionEnded(Self.finished("a", .failed), Self.at(5200)))
        #expect(Self.reports(ended).map(\.outcome) == [.handedBack])
        #expect(!ended.contains(.leave), "it waits for the acknowledgements")
        for id in ["b", "c"] { #expect(!core.on(.received(.attemptAcknowledged(AttemptAcknowledged(attemptID: id, accepted: true)), Self.at(5300))).contains(.leave)) }
        #expect(core.on(.received(.attemptAcknowledged(AttemptAcknowledged(attemptID: "a", accepted: true)), Self.at(5400))).contains(.leave))
    }

    @Test func aDrainedWorkerLeavesWithoutAcknowledgementsAfterFiveSecondsAndASecondSIGTERMEndsTheDrainNow() {
        var core = Self.registered(slots: 1, drain: 60_000)
        _ = core.on(.received(Self.dispatch("a"), Self.at(0)))
        _ = core.on(.drainRequested(reason: "SIGTERM", announce: true, Self.at(100)))
        #expect(core.on(.drainRequested(reason: "SIGTERM", announce: true, Self.at(200))).contains(.stop(attemptID: "a", immediately: false)))
        _ = core.on(.executionEnded(Self.finished("a", .failed), Self.at(300)))
        #expect(!core.on(.tick(Self.at(5299))).contains(.leave))
        #expect(core.on(.tick(Self.at(5300))).contains(.leave))
    }

    /// Random histories of a coordinator (dispatches, duplicates, heartbeats, cancels,
    /// acknowledgements, restarts, drains) and of processes ending, checked against the rules.
    @Test(arguments: 0..<300)
    func randomHistoriesKeepTheRules(seed: Int) {
        var random = SeededGenerator(seed: UInt64(seed) &+ 0x5EED)
        let slots = Int.random(in: 1...3, using: &random)
        var core = WorkerCore(settings: WorkerCore.Settings(slots: slots, drainMilliseconds: Int64.random(in: 1000...20_000, using: &random)))
        var now: Int64 = 0
        var dispatched: [String] = []
        var running: Set<String> = []  // started, not ended
        var everStarted: Set<String> = []
        var stopping: Set<String> = []
        var fencedIDs: Set<String> = []
        var drainedAt: Int64?
        var left = false
        var problems: [String] = []

        func check(_ actions: [WorkerCore.Action], after event: String) {
            for action in actions {
                if left { problems.append("\(event): \(action) after leaving") }
                switch action {
                case .start(let dispatch):
                    let id = dispatch.attemptID
                    if everStarted.contains(id) { problems.append("\(event): \(id) started twice") }
                    if drainedAt != nil { problems.append("\(event): \(id) started while draining") }
                    everStarted.insert(id)
                    running.insert(id)
                case .stop(let id, let immediately):
                    if !running.contains(id) { problems.append("\(event): stop for \(id), which does not run") }
                    if immediately { fencedIDs.insert(id) }
                    stopping.insert(id)
                case .send(.attemptFinished(let report)):
                    if !dispatched.contains(report.attemptID) { problems.append("\(event): report for \(report.attemptID), never dispatched") }
                    if fencedIDs.contains(report.attemptID) && report.outcome != .fenced { problems.append("\(event): \(report.attemptID) was fenced but reported \(report.outcome)") }
                case .leave:
                    if !running.isEmpty { problems.append("\(event): left with \(running.sorted()) running") }
                    left = true
                default:
                    break
                }
            }
            if running.count > slots { problems.append("\(event): \(running.count) running with \(slots) slots") }
            if core.activeCount != running.count, !left, core.refusal == nil { problems.append("\(event): core counts \(core.activeCount) active, \(running.count) run") }
            if !running.isSubset(of: core.heldAttempts) { problems.append("\(event): running \(running.sorted()) not all held \(core.heldAttempts)") }
        }

        check(core.on(.started(Self.at(now))), after: "start")
        for step in 0..<200 where !left && core.refusal == nil {
            let pick = Int.random(in: 0..<100, using: &random)
            let event: String
            var actions: [WorkerCore.Action]
            switch pick {
            case 0..<20:
                let id = "a\(dispatched.count)"
                dispatched.append(id)
                event = "\(step) dispatch \(id)"
                actions = core.on(.received(Self.dispatch(id, lease: UInt64.random(in: 0...3, using: &random)), Self.at(now)))
            case 20..<24 where !dispatched.isEmpty:
                let id = dispatched.randomElement(using: &random)!
                event = "\(step) dispatch \(id) again"
                actions = core.on(.received(Self.dispatch(id), Self.at(now)))
            case 24..<40:
                event = "\(step) heartbeat echo"
                let named = dispatched.filter { _ in random.chance(0.8) }
                actions = core.on(.received(.heartbeat(Heartbeat(runningAttempts: named, sequence: UInt64.random(in: 0...40, using: &random))), Self.at(now)))
            case 40..<46 where !dispatched.isEmpty:
                let id = dispatched.randomElement(using: &random)!
                event = "\(step) cancel \(id)"
                actions = core.on(.received(.cancel(Cancel(attemptID: id, reason: "x")), Self.at(now)))
            case 46..<60 where !dispatched.isEmpty:
                let id = dispatched.randomElement(using: &random)!
                event = "\(step) ack \(id)"
                actions = core.on(.received(.attemptAcknowledged(AttemptAcknowledged(attemptID: id, accepted: random.chance(0.9))), Self.at(now)))
            case 60..<75 where !running.isEmpty:
                // Stopped processes end first; others when they are done.
                let id = stopping.intersection(running).sorted().first ?? running.sorted().randomElement(using: &random)!
                running.remove(id)
                stopping.remove(id)
                event = "\(step) \(id) ended"
                let outcome: AttemptOutcome = [.succeeded, .failed, .workerError].randomElement(using: &random)!
                if !core.holds(id) { problems.append("\(event): ended but not held") }
                actions = core.on(.executionEnded(Self.finished(id, outcome), Self.at(now)))
            case 75..<78:
                event = "\(step) coordinator restarted"
                actions = core.on(.received(.refuse(Refuse(reason: "unknown", helloRequired: true)), Self.at(now)))
                actions += core.on(.received(.welcome(Welcome(workerID: "w-\(step)", heartbeatIntervalMilliseconds: 1000)), Self.at(now)))
            case 78 where drainedAt == nil || random.chance(0.3):
                event = "\(step) SIGTERM"
                drainedAt = drainedAt ?? now
                actions = core.on(.drainRequested(reason: "SIGTERM", announce: true, Self.at(now)))
            case 79 where random.chance(0.1):
                event = "\(step) refused"
                actions = core.on(.received(.refuse(Refuse(reason: "no")), Self.at(now)))
            default:
                now += Int64.random(in: 0...2500, using: &random)
                event = "\(step) tick at \(now)"
                actions = core.on(.tick(Self.at(now)))
                check(actions, after: event)
                // Every attempt held past its lease is fenced by then.
                for id in running where !core.leases.isCurrent(id, now: now) && !fencedIDs.contains(id) {
                    problems.append("\(event): \(id)'s lease ran out but it was not fenced")
                }
                continue
            }
            check(actions, after: event)
        }
        #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(5))")
        #expect(!everStarted.isEmpty || dispatched.isEmpty || core.refusal != nil || drainedAt != nil, "seed \(seed): nothing ever started")
    }
}
