import Coordinator
import Foundation
import Protocol
import Spec
import TestKit
import Synchronization
import Testing
import Transport

/// The coordinator shell over the in-memory transport: registration and hostile input.
@Suite(.timeLimit(.minutes(1)))
struct CoordinatorServiceTests {
    func withCoordinator(_ body: (InMemoryNetwork, CoordinatorService) async throws -> Void) async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-coordinator")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: network.coordinator)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await body(network, service)
            network.coordinator.close()
            group.cancelAll()
        }
    }

    func hello(version: UInt16, name: String = "w") -> Message {
        let capabilities = WorkerCapabilities(cores: 2, memoryBytes: 1 << 30, slots: 1, labels: [], hostname: "h")
        return Message(
            envelope: Envelope(version: version, code: .hello, messageID: 1, senderID: name),
            payload: .hello(Hello(protocolVersion: version, workerName: name, capabilities: capabilities))
        )
    }

    func firstMessage(_ transport: InMemoryWorkerTransport) async -> Message? {
        for await event in transport.events {
            if case .message(let message) = event { return message }
        }
        return nil
    }

    @Test func aWorkerWithTheWrongProtocolVersionIsRefusedWithAReason() async throws {
        try await withCoordinator { network, service in
            let worker = network.connectWorker(identity: "old")
            worker.send(hello(version: 99))
            let reply = await firstMessage(worker)
            guard case .refuse(let refuse)? = reply?.payload else {
                Issue.record("expected refuse, got \(String(describing: reply))")
                return
            }
            #expect(refuse.reason.contains("protocol version 99"))
            #expect(refuse.helloRequired != true, "a version mismatch is final")
            #expect(refuse.reason.contains("version \(ProtocolVersion.current)"))
            let workers = try await service.listWorkers()
            #expect(workers.isEmpty)
        }
    }

    @Test func malformedAndUnknownMessagesDoNotHurtTheCoordinator() async throws {
        try await withCoordinator { network, service in
            network.injectRaw([], from: "x")
            network.injectRaw([[0xC0, 0xD1, 0, 1, 0x7F, 0x7F]], from: "x")
            network.injectRaw([[1, 2, 3], Array(repeating: 0xFF, count: 1000)], from: "x")
            var unknown = MessageCodec.encode(hello(version: ProtocolVersion.current))
            unknown[0][4] = 0x7E
            network.injectRaw(unknown, from: "x")
            let stranger = network.connectWorker(identity: "stranger")
            stranger.send(Message(envelope: Envelope(code: .attemptFinished, messageID: 2, senderID: "s"),
                                  payload: .attemptFinished(AttemptFinished(attemptID: "nope", outcome: .succeeded, startedAt: 0, endedAt: 0))))
            guard case .refuse(let refuse)? = await firstMessage(stranger)?.payload else {
                Issue.record("an unregistered sender must be told to say hello first")
                return
            }
            #expect(refuse.helloRequired == true, "not a fatal refusal: the worker registers again")
            let worker = network.connectWorker(identity: "good")
            worker.send(hello(version: ProtocolVersion.current, name: "good"))
            let reply = await firstMessage(worker)
            guard case .welcome(let welcome)? = reply?.payload else {
                Issue.record("a good worker must still be welcomed")
                return
            }
            #expect(welcome.workerID == "good")
            #expect(reply?.envelope.causeID == 1, "a reply names the message it answers (the hello's id)")
            #expect(reply?.envelope.senderID == "coordinator")
            let workers = try await service.listWorkers()
            #expect(workers.map(\.name) == ["good"])
        }
    }

    @Test func aSecondCoordinatorOnTheSameDataDirectoryIsRefused() throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-lock")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        #expect { try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator) }
            throws: { ($0 as? CoordinatorError)?.code == .conflict && "\($0)".contains(directory) }
        withExtendedLifetime(first) {}
    }
}

@Suite struct SubmittedPlanTests {
    func plan(_ steps: [PlannedStep], outputs: [PipelineOutputBinding] = []) -> PipelinePlan {
        PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: steps, outputs: outputs)
    }

    func step(_ name: String, reads: (String, String)? = nil, writes: [String] = []) -> PlannedStep {
        PlannedStep(
            name: name, commandTemplate: "true", command: CommandTemplate(segments: [.text("true")]),
            inputs: reads.map { [StepDataInput(name: "x", type: .uriFolder, source: .stepOutput(step: $0.0, output: $0.1))] } ?? [],
            outputs: writes.map { StepDataOutput(name: $0, type: .uriFolder) }
        )
    }

    /// Plans arrive over HTTP from any client: malformed ones are refused, never trapped on.
    @Test func malformedPlansAreRefusedWithAReason() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-plans")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        let bad: [(PipelinePlan, String)] = [
            (plan([]), "no steps"),
            (plan([step("a"), step("a")]), "twice"),
            (plan([step("b", reads: ("a", "o")), step("a", writes: ["o"])]), "earlier step"),
            (plan([step("a", writes: ["o"]), step("b", reads: ("a", "nope"))]), "a.nope"),
            (plan([step("a")], outputs: [PipelineOutputBinding(name: "m", type: .uriFolder, step: "ghost", output: "o")]), "ghost"),
            (plan([step("a", writes: ["o", "o"])]), "twice"),
        ]
        for (plan, words) in bad {
            let json = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
            let request = SubmitRequest(planJSON: json, localInputs: [:], code: [:], force: [])
            await #expect { try await service.submit(request) } throws: {
                ($0 as? CoordinatorError)?.code == .invalidRequest && "\($0)".contains(words)
            }
        }
        let garbage = SubmitRequest(planJSON: "{not json", localInputs: [:], code: [:], force: [])
        await #expect(throws: CoordinatorError.self) { try await service.submit(garbage) }
    }
}

/// Group commit: while more messages wait, their writes share one transaction and the replies
/// wait for it; a bound and any client query end the wait.
@Suite(.timeLimit(.minutes(1)))
struct GroupCommitTests {
    let service = CoordinatorServiceTests()

    /// The codes of the messages a worker received, in order.
    final class Received: Sendable {
        let codes = Mutex<[MessageCode]>([])
        var isEmpty: Bool { codes.withLock { $0.isEmpty } }

        func waitFor(_ code: MessageCode) async throws -> Bool {
            for _ in 0..<500 {
                if codes.withLock({ $0.contains(code) }) { return true }
                try await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
    }

    /// Waits (up to 5 s) until the coordinator has handled messages whose writes or replies wait
    /// for a commit.
    static func waitForPendingCommit(_ coordinator: CoordinatorService) async throws -> Bool {
        for _ in 0..<500 {
            if await coordinator.hasPendingCommit { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func record(_ worker: InMemoryWorkerTransport) -> (Task<Void, Never>, Received) {
        let received = Received()
        let task = Task {
            for await event in worker.events {
                if case .message(let message) = event { received.codes.withLock { $0.append(message.payload.code) } }
            }
        }
        return (task, received)
    }

    @Test func repliesWaitForTheBatchUntilAClientAsks() async throws {
        try await service.withCoordinator { network, coordinator in
            network.coordinator.simulatedBacklog.withLock { $0 = 1 }
            let worker = network.connectWorker(identity: "w")
            let (task, received) = record(worker)
            defer { task.cancel() }
            worker.send(service.hello(version: ProtocolVersion.current))
            // Handled, but the welcome waits: the coordinator believes more messages are queued.
            let handled = try await Self.waitForPendingCommit(coordinator)
            #expect(handled, "the hello was handled and its reply is waiting")
            try await Task.sleep(for: .milliseconds(100))
            #expect(received.isEmpty, "no reply before the batch is committed")
            // A client query commits the batch first, so it sees (and sends) everything.
            let workers = try await coordinator.listWorkers()
            #expect(workers.map(\.name) == ["w"])
            #expect(try await received.waitFor(.welcome))
        }
    }

    @Test func aLongBurstIsCommittedAtTheBound() async throws {
        try await service.withCoordinator { network, coordinator in
            network.coordinator.simulatedBacklog.withLock { $0 = 1 }
            let worker = network.connectWorker(identity: "w")
            let (task, received) = record(worker)
            defer { task.cancel() }
            worker.send(service.hello(version: ProtocolVersion.current))
            for index in 0..<(CoordinatorService.maximumEventsPerCommit - 2) {
                worker.send(Message(envelope: Envelope(code: .heartbeat, messageID: UInt64(index + 2), senderID: "w"), payload: .heartbeat(Heartbeat())))
            }
            let handled = try await Self.waitForPendingCommit(coordinator)
            #expect(handled)
            try await Task.sleep(for: .milliseconds(100))
            #expect(received.isEmpty, "below the bound, the replies still wait")
            worker.send(Message(envelope: Envelope(code: .heartbeat, messageID: 999, senderID: "w"), payload: .heartbeat(Heartbeat())))
            #expect(try await received.waitFor(.welcome), "the welcome goes out once the burst reaches the bound")
        }
    }
}
