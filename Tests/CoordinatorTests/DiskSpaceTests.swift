@testable import Coordinator
import Foundation
import Protocol
import Spec
import Synchronization
import TestKit
import Testing
import Transport

/// A running coordinator over the in-memory network whose data directory's file system has
/// `freeSpace()` bytes free, and a worker "w" with `slots` slots that has said hello; the body gets
/// the coordinator, the worker's end of the network and the data directory.
func withDiskCoordinator(
    _ prefix: String, slots: Int = 1, freeSpace: @escaping @Sendable () -> Int64,
    _ body: (CoordinatorService, InMemoryWorkerTransport, String) async throws -> Void
) async throws {
    let directory = try ProcessHarness.temporaryDirectory(prefix)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let network = InMemoryNetwork()
    let configuration = CoordinatorConfiguration(
        dataDirectory: directory, heartbeatInterval: .milliseconds(50), freeSpace: { _ in freeSpace() }
    )
    let service = try CoordinatorService(configuration: configuration, transport: network.coordinator)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await service.run() }
        let worker = network.connectWorker(identity: "w")
        let capabilities = WorkerCapabilities(cores: 1, memoryBytes: 1 << 30, slots: slots, labels: [], hostname: "h")
        worker.send(Message(envelope: Envelope(code: .hello, messageID: 1, senderID: "w"), payload: .hello(Hello(workerName: "w", capabilities: capabilities))))
        try await body(service, worker, directory)
        network.coordinator.close()
        group.cancelAll()
    }
}

/// A full disk under the data directory pauses dispatching with a reason, and space coming
/// back resumes it.
@Suite(.timeLimit(.minutes(1)))
struct DiskSpaceTests {
    @Test func aFullDiskPausesDispatchingUntilSpaceReturns() async throws {
        let free = Mutex<Int64>(100 << 20)
        try await withDiskCoordinator("conduit-disk", freeSpace: { free.withLock { $0 } }) { service, worker, _ in
            var events = worker.events.makeAsyncIterator()
            guard case .message(let welcome)? = await events.next(), case .welcome = welcome.payload else {
                Issue.record("the worker must be welcomed")
                return
            }
            await service.tick()  // the disk check: dispatching pauses
            let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
                PlannedStep(name: "a", commandTemplate: "true", command: CommandTemplate(segments: [.text("true")])),
            ], outputs: [])
            let run = try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
            let paused = try await service.report(runID: run)
            #expect(paused.steps.first?.status == .queued)
            #expect(paused.steps.first?.reason?.contains("disk is full") == true, "\(String(describing: paused.steps.first?.reason))")

            free.withLock { $0 = 10 << 30 }
            var dispatched = false
            while let event = await events.next() {
                if case .message(let message) = event, case .dispatch(let dispatch) = message.payload {
                    dispatched = dispatch.runID == run
                    break
                }
            }
            #expect(dispatched, "dispatching resumes once space is back")
        }
    }
}

/// An upload the coordinator's disk has no room for waits, and its step says why.
@Suite(.timeLimit(.minutes(1)))
struct UploadDiskSpaceTests {
    @Test func anUploadTooLargeForTheFreeSpaceWaitsWithAReasonUntilSpaceReturns() async throws {
        let free = Mutex<Int64>(300 << 20)
        try await withDiskCoordinator("conduit-upload-space", freeSpace: { free.withLock { $0 } }) { service, worker, directory in
            var events = worker.events.makeAsyncIterator()
            func next(where matches: (Payload) -> Bool) async -> Payload? {
                while let event = await events.next() {
                    if case .message(let message) = event, matches(message.payload) { return message.payload }
                }
                return nil
            }
            guard case .welcome? = await next(where: { _ in true }) else {
                Issue.record("the worker must be welcomed")
                return
            }
            let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
                PlannedStep(name: "a", commandTemplate: "true", command: CommandTemplate(segments: [.text("true")])),
            ], outputs: [])
            let run = try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
            guard case .dispatch(let dispatch)? = await next(where: { if case .dispatch = $0 { true } else { false } }) else {
                Issue.record("the step must be dispatched")
                return
            }
            // 100 MiB would leave 200 MiB free, under the 256 MiB minimum.
            let blob = String(repeating: "cd", count: 32)
            worker.send(Message(
                envelope: Envelope(code: .uploadBegin, messageID: 2, senderID: "w"),
                payload: .uploadBegin(UploadBegin(attemptID: dispatch.attemptID, blob: blob, size: 100 << 20))))
            var reason: String?
            for _ in 0..<500 {
                reason = try await service.report(runID: run).steps.first?.reason
                if reason?.contains("disk full") == true { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(reason == "waiting: coordinator disk full (300 MiB free, 356 MiB needed)", "\(String(describing: reason))")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/blobs/tmp").isEmpty, "nothing is written while it waits")

            free.withLock { $0 = 10 << 30 }
            guard case .uploadCredit(let credit)? = await next(where: { if case .uploadCredit = $0 { true } else { false } }) else {
                Issue.record("the upload must go on once space is back")
                return
            }
            #expect(credit.blob == blob && credit.offset == 0)
        }
    }
}

/// An upload announcing an absurd size is refused; the coordinator keeps answering and dispatching.
@Suite(.timeLimit(.minutes(1)))
struct HostileUploadSizeTests {
    @Test func anUploadOfAnAbsurdSizeIsRefusedAndNothingPauses() async throws {
        try await withDiskCoordinator("conduit-upload-size", slots: 2, freeSpace: { 10 << 30 }) { service, worker, _ in
            let inbox = MessageInbox(worker.events)
            #expect(try await inbox.first(.code(.welcome)) != nil)
            let steps = ["a", "b"].map { PlannedStep(name: $0, commandTemplate: "true", command: CommandTemplate(segments: [.text("true")])) }
            let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: steps, outputs: [])
            let run = try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
            guard case .dispatch(let dispatch)? = try await inbox.first(.code(.dispatch))?.payload else {
                Issue.record("the step must be dispatched")
                return
            }
            for size in [Int64.max, Int64.max - (1 << 20), 1 << 62] {
                worker.send(Message(
                    envelope: Envelope(code: .uploadBegin, messageID: 2, senderID: "w"),
                    payload: .uploadBegin(UploadBegin(attemptID: dispatch.attemptID, blob: String(repeating: "ab", count: 32), size: size))))
            }
            #expect(try await inbox.count(.code(.uploadStored), atLeast: 3) == 3, "each absurd upload is answered")
            #expect(!inbox.received.contains { if case .uploadStored(let stored) = $0.payload { stored.ok } else { false } })
            let report = try await service.report(runID: run)
            #expect(report.steps.allSatisfy { $0.reason?.contains("disk full") != true }, "\(report.steps)")
            #expect(try await inbox.count(.code(.dispatch), atLeast: 2) == 2, "dispatching goes on")
            inbox.stop()
        }
    }
}
