@testable import Coordinator
import Foundation
import Protocol
import Spec
import Store
import Synchronization
import TestKit
import Testing
import Transport

/// A worker's end of the in-memory network, with everything it receives.
struct DiskTestWorker {
    let transport: InMemoryWorkerTransport
    let inbox: MessageInbox

    init(_ transport: InMemoryWorkerTransport) {
        self.transport = transport
        inbox = MessageInbox(transport.events)
    }

    func send(_ payload: Payload) {
        transport.send(Message(envelope: Envelope(code: payload.code, messageID: 1, senderID: "w"), payload: payload))
    }

    func hello(running: [String] = []) {
        let capabilities = WorkerCapabilities(cores: 1, memoryBytes: 1 << 30, slots: 1, labels: [], hostname: "h")
        send(.hello(Hello(workerName: "w", capabilities: capabilities, runningAttempts: running)))
    }
}

/// A test that cannot go on, saying why.
struct DiskTestFailure: Error, CustomStringConvertible {
    let description: String
}

/// A coordinator on `directory` over `network`, with the runs an earlier process left restored,
/// whose clock is `clock` and whose timers never fire by themselves (the test moves the clock and calls `tick()`), with 300 MiB free under its data
/// directory (under the 256 MiB minimum plus any upload of 100 MiB).
func withStillCoordinator(
    directory: String, network: InMemoryNetwork, clock: ManualClock,
    _ body: (CoordinatorService) async throws -> Void
) async throws {
    let configuration = CoordinatorConfiguration(
        dataDirectory: directory, heartbeatInterval: .seconds(3600), freeSpace: { _ in 300 << 20 }, clock: clock.serviceClock
    )
    let service = try CoordinatorService(configuration: configuration, transport: network.coordinator)
    await service.restore()  // before the body looks (run() would do it, at a moment of its own)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await service.run() }
        try await body(service)
        network.coordinator.close()
        group.cancelAll()
    }
}

/// The attempt whose upload waits for disk space ends with an outcome in its row whatever happens
/// next, and its step says why it waits meanwhile.
@Suite(.timeLimit(.minutes(1)))
struct DiskFullAttemptTests {
    static let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
        PlannedStep(name: "a", commandTemplate: "true", command: CommandTemplate(segments: [.text("true")])),
    ], outputs: [])

    /// Submits the one-step plan, starts its attempt on `worker` and has it begin an upload of
    /// 100 MiB that the disk has no room for; returns the run and the attempt once the step says
    /// that it waits.
    func startWaitingUpload(_ service: CoordinatorService, _ worker: DiskTestWorker) async throws -> (run: String, attempt: String) {
        #expect(try await worker.inbox.first(.code(.welcome)) != nil, "the worker must be welcomed")
        let plan = Self.plan
        let run = try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
        guard case .dispatch(let dispatch)? = try await worker.inbox.first(.code(.dispatch))?.payload else {
            throw DiskTestFailure(description: "the step was not dispatched")
        }
        worker.send(.attemptStarted(AttemptStarted(attemptID: dispatch.attemptID)))
        worker.send(.uploadBegin(UploadBegin(attemptID: dispatch.attemptID, blob: String(repeating: "cd", count: 32), size: 100 << 20)))
        let deadline = ContinuousClock.now + .seconds(10)
        var reason: String?
        while ContinuousClock.now < deadline {
            reason = try await service.report(runID: run).steps.first?.reason
            if reason?.contains("disk full") == true { break }
            await Task.yield()
        }
        #expect(reason == "waiting: coordinator disk full (300 MiB free, 356 MiB needed)", "\(String(describing: reason))")
        await service.tick()  // the start rides along with the tick's commit
        #expect(try await service.store.attempt(id: dispatch.attemptID)?.status == "running")
        return (run, dispatch.attemptID)
    }

    @Test func aFailureReportedWhileTheDatabaseIsFullReachesTheAttemptsRowOnceSpaceReturns() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-full-failure")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        try await withStillCoordinator(directory: directory, network: network, clock: ManualClock()) { service in
            let store = await service.store
            let worker = DiskTestWorker(network.connectWorker(identity: "w"))
            worker.hello()
            let (run, attempt) = try await startWaitingUpload(service, worker)
            // The disk fills up for the database too: the worker gives the attempt up.
            store.simulateFullDisk(true)
            worker.send(.attemptFinished(AttemptFinished(attemptID: attempt, outcome: .workerError, startedAt: 1, endedAt: 2, message: "upload refused: disk full")))
            // The step is tried again (the retry reaches the worker while nothing can be recorded).
            #expect(try await worker.inbox.count(.code(.dispatch), atLeast: 2) == 2, "the step is retried")
            #expect(try store.attempt(id: attempt)?.status == "running", "nothing could be recorded yet")
            #expect(!worker.inbox.contains(.acknowledged(attemptID: attempt, accepted: true)), "nothing is acknowledged before it is recorded")

            store.simulateFullDisk(false)
            _ = try await service.report(runID: run)  // a query writes what is pending
            let row = try #require(try store.attempt(id: attempt))
            #expect(row.status == AttemptOutcome.workerError.rawValue, "the first attempt's row ends with its outcome, not `running`")
            #expect(row.message == "upload refused: disk full")
            #expect(try store.attempts(runID: run).map(\.status) == [AttemptOutcome.workerError.rawValue, "dispatched"])
            worker.inbox.stop()
        }
    }

    @Test func aSuccessReportedWhileTheDatabaseIsFullIsRecordedAndAcknowledgedOnceSpaceReturns() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-full-success")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        try await withStillCoordinator(directory: directory, network: network, clock: ManualClock()) { service in
            let store = await service.store
            let worker = DiskTestWorker(network.connectWorker(identity: "w"))
            worker.hello()
            let plan = Self.plan
            #expect(try await worker.inbox.first(.code(.welcome)) != nil)
            let run = try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
            guard case .dispatch(let dispatch)? = try await worker.inbox.first(.code(.dispatch))?.payload else {
                Issue.record("the step must be dispatched")
                return
            }
            store.simulateFullDisk(true)
            let finished = AttemptFinished(attemptID: dispatch.attemptID, outcome: .succeeded, startedAt: 1, endedAt: 2)
            worker.send(.attemptStarted(AttemptStarted(attemptID: dispatch.attemptID)))
            worker.send(.attemptFinished(finished))
            let deadline = ContinuousClock.now + .seconds(10)
            while try await service.report(runID: run).status != .completed, ContinuousClock.now < deadline { await Task.yield() }
            #expect(!worker.inbox.contains(.acknowledged(attemptID: dispatch.attemptID, accepted: true)), "acknowledged before it was recorded")

            store.simulateFullDisk(false)
            await service.tick()  // writes what waited
            worker.send(.attemptFinished(finished))  // the worker sends its unacknowledged report again
            #expect(try await worker.inbox.first(.acknowledged(attemptID: dispatch.attemptID, accepted: true)) != nil)
            #expect(try store.attempt(id: dispatch.attemptID)?.status == AttemptOutcome.succeeded.rawValue)
            #expect(try store.run(id: run)?.status == .completed)
            #expect(try store.step(runID: run, name: "a")?.status == .completed)
            worker.inbox.stop()
        }
    }

    @Test func aCanceledRunClosesTheWaitingAttemptsRow() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-full-cancel")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        try await withStillCoordinator(directory: directory, network: network, clock: ManualClock()) { service in
            let store = await service.store
            let worker = DiskTestWorker(network.connectWorker(identity: "w"))
            worker.hello()
            let (run, attempt) = try await startWaitingUpload(service, worker)
            try await service.cancel(runID: run)
            #expect(try await worker.inbox.first(.cancel(attemptID: attempt)) != nil)
            #expect(try store.attempt(id: attempt)?.status == AttemptOutcome.canceled.rawValue)
            #expect(try store.run(id: run)?.status == .canceled)
            worker.inbox.stop()
        }
    }

    @Test func aLostWorkerClosesTheWaitingAttemptsRow() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-full-lost")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        let clock = ManualClock()
        try await withStillCoordinator(directory: directory, network: network, clock: clock) { service in
            let store = await service.store
            let worker = DiskTestWorker(network.connectWorker(identity: "w"))
            worker.hello()
            let (run, attempt) = try await startWaitingUpload(service, worker)
            // The worker falls silent: lost after the loss timeout, its attempt given up after its lease.
            for _ in 0..<2 {
                clock.advance(by: 10_001)
                await service.tick()
            }
            let row = try #require(try store.attempt(id: attempt))
            #expect(row.status == "lost", "\(row)")
            #expect(row.finishedAt != nil)
            let step = try await service.report(runID: run).steps.first
            #expect(step?.reason?.contains("disk full") != true, "the given-up attempt's upload no longer explains the step: \(String(describing: step))")
            worker.inbox.stop()
        }
    }

    @Test func aRestartedCoordinatorClosesTheWaitingAttemptsRow() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-full-restart")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = ManualClock()
        var waiting: (run: String, attempt: String)?
        let first = InMemoryNetwork()
        try await withStillCoordinator(directory: directory, network: first, clock: clock) { service in
            let worker = DiskTestWorker(first.connectWorker(identity: "w"))
            worker.hello()
            waiting = try await startWaitingUpload(service, worker)
            worker.inbox.stop()
        }
        let (run, attempt) = try #require(waiting)
        // The worker never comes back: after the grace period the attempt is given up.
        try await withStillCoordinator(directory: directory, network: InMemoryNetwork(), clock: clock) { service in
            let store = await service.store
            #expect(try store.attempt(id: attempt)?.status == "running")
            clock.advance(by: 10_001)
            await service.tick()
            let row = try #require(try store.attempt(id: attempt))
            #expect(row.status == "coordinator_restart", "\(row)")
            #expect(try store.attempts(runID: run).count == 1, "no worker: the retry waits in the queue")
        }
    }

    /// Rows an earlier process left `running` although their attempt is over (a finished run, a
    /// step already final) are closed when the coordinator starts.
    @Test func rowsLeftRunningForAttemptsThatAreOverAreClosedAtStart() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-stray-rows")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = Self.plan
        let submission = SubmitRequest(planJSON: try PlanJSON.encode(plan), localInputs: [:], code: [:], force: []).json
        do {
            let store = try ConduitStore(path: directory + "/conduit.sqlite")
            var batch = StoreBatch()
            // A finished run whose attempt row says running.
            batch.insert(
                RunRecord(id: "run-done", pipeline: "p", status: .completed, submissionJSON: submission, createdAt: 1, finishedAt: 2),
                steps: [StepRecord(runID: "run-done", name: "a", position: 0, status: .completed)])
            batch.save(AttemptRecord(id: "run-done-0-1", runID: "run-done", step: "a", worker: "w", status: "running", dispatchedAt: 1))
            // A running run whose step failed, its attempt row still running.
            batch.insert(
                RunRecord(id: "run-live", pipeline: "p", status: .running, submissionJSON: submission, createdAt: 1),
                steps: [StepRecord(runID: "run-live", name: "a", position: 0, status: .failed)])
            batch.save(AttemptRecord(id: "run-live-0-1", runID: "run-live", step: "a", worker: "w", status: "dispatched", dispatchedAt: 1))
            try store.write(batch)
        }
        try await withStillCoordinator(directory: directory, network: InMemoryNetwork(), clock: ManualClock()) { service in
            let store = await service.store
            for id in ["run-done-0-1", "run-live-0-1"] {
                let row = try #require(try store.attempt(id: id))
                #expect(row.status == "coordinator_restart", "\(row)")
                #expect(row.finishedAt != nil && row.message?.contains("never recorded") == true, "\(row)")
            }
        }
    }
}
