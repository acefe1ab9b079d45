import Coordinator
import Foundation
import Protocol
import Spec
import TestKit
import Testing
import Transport

/// A worker whose key is allowed, but that lies: it takes another worker's name, claims another
/// worker's attempt and reports it done. The coordinator over the in-memory transport, with each
/// connection carrying the key its handshake would have proved.
@Suite(.timeLimit(.minutes(1)))
struct WorkerIdentityServiceTests {
    /// A worker connection over the in-memory network, and what it received.
    struct Connection {
        let transport: InMemoryWorkerTransport
        let inbox: MessageInbox

        init(_ transport: InMemoryWorkerTransport) {
            self.transport = transport
            inbox = MessageInbox(transport.events)
        }

        func send(_ payload: Payload) {
            transport.send(Message(envelope: Envelope(code: payload.code, messageID: 1, senderID: "w"), payload: payload))
        }

        func hello(_ name: String, running: [String] = []) {
            let capabilities = WorkerCapabilities(cores: 2, memoryBytes: 1 << 30, slots: 1, labels: [], hostname: "h")
            send(.hello(Hello(workerName: name, capabilities: capabilities, runningAttempts: running)))
        }
    }

    func withAuthenticatedCoordinator(
        keys: [String: String], clock: ServiceClock = .system, _ body: (InMemoryNetwork, CoordinatorService) async throws -> Void
    ) async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-identity")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        let configuration = CoordinatorConfiguration(dataDirectory: directory, heartbeatInterval: .milliseconds(50), clock: clock)
        let service = try CoordinatorService(configuration: configuration, transport: network.coordinator)
        try await service.enableWorkerAuthentication(WorkerAllowList())
        for (name, key) in keys.sorted(by: { $0.key < $1.key }) { _ = try await service.allowWorkerKey(key, name: name) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await body(network, service)
            network.coordinator.close()
            group.cancelAll()
        }
    }

    /// Waits (up to 10 s) until the coordinator has noticed that worker `id`'s connection is gone:
    /// its next heartbeat to it is undeliverable.
    func waitUntilDisconnected(_ id: String, in service: CoordinatorService) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await service.listWorkers().contains(where: { $0.id == id && $0.connected }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func submitOneStep(to service: CoordinatorService) async throws -> String {
        let step = PlannedStep(name: "train", commandTemplate: "true", command: CommandTemplate(segments: [.text("true")]))
        let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [step], outputs: [])
        let json = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        return try await service.submit(SubmitRequest(planJSON: json, localInputs: [:], code: [:], force: []))
    }

    @Test func aLyingWorkerCannotTakeANameOrAnAttemptThatIsNotItsKeys() async throws {
        let alice = try TestKeys.publicKey()
        let mallory = try TestKeys.publicKey()
        // The clock stands still: no lease runs out and no worker falls silent, however slow the machine.
        let clock = ManualClock()
        try await withAuthenticatedCoordinator(keys: ["gpu-1": alice, "mallory": mallory], clock: clock.serviceClock) { network, service in
            let victim = Connection(network.connectWorker(identity: "victim", authenticatedKey: alice))
            victim.hello("gpu-1")
            #expect(try await victim.inbox.first(.code(.welcome)) != nil)
            let run = try await submitOneStep(to: service)
            let dispatched = try await victim.inbox.first(.code(.dispatch))
            guard case .dispatch(let dispatch)? = dispatched?.payload else {
                Issue.record("the step was not dispatched to the allowed worker: \(victim.inbox.received.map(\.payload.code))")
                return
            }
            let attemptID = dispatch.attemptID

            // Another allowed key may not register under the victim's name.
            let impostor = Connection(network.connectWorker(identity: "impostor", authenticatedKey: mallory))
            impostor.hello("gpu-1", running: [attemptID])
            let refused = try await impostor.inbox.first(.code(.refuse))
            guard case .refuse(let refuse)? = refused?.payload else {
                Issue.record("a second key took the name gpu-1")
                return
            }
            #expect(refuse.reason.contains("in use"), "\(refuse.reason)")
            #expect(refuse.helloRequired != true, "a name in use is a final refusal")
            #expect(!impostor.inbox.contains(.code(.welcome)))

            // Under its own name, its claim on the victim's attempt is refused, and its report of it
            // is rejected.
            let liar = Connection(network.connectWorker(identity: "liar", authenticatedKey: mallory))
            liar.hello("mallory", running: [attemptID])
            #expect(try await liar.inbox.first(.cancel(attemptID: attemptID)) != nil, "the liar was not told to drop the attempt")
            liar.send(.attemptFinished(AttemptFinished(attemptID: attemptID, outcome: .succeeded, startedAt: 0, endedAt: 1)))
            let acknowledged = try await liar.inbox.first(.code(.attemptAcknowledged))
            guard case .attemptAcknowledged(let ack)? = acknowledged?.payload else {
                Issue.record("the liar's report was not answered")
                return
            }
            #expect(!ack.accepted)
            var report = try await service.report(runID: run)
            #expect(report.status == .running, "\(report)")
            #expect(report.steps.first?.worker == "gpu-1", "\(report.steps)")

            // The victim's connection drops; its attempt is an orphan. The liar's heartbeat naming it
            // is refused; the victim's own key, on a new connection, re-attaches it.
            victim.transport.close()
            try await waitUntilDisconnected("gpu-1", in: service)
            liar.send(.heartbeat(Heartbeat(runningAttempts: [attemptID], sequence: 1)))
            liar.send(.attemptFinished(AttemptFinished(attemptID: attemptID, outcome: .succeeded, startedAt: 0, endedAt: 1)))
            let rejections = try await liar.inbox.count(.acknowledged(attemptID: attemptID, accepted: false), atLeast: 2)
            #expect(rejections == 2, "the liar's second report was not answered")
            #expect(!liar.inbox.contains(.acknowledged(attemptID: attemptID, accepted: true)))
            report = try await service.report(runID: run)
            #expect(report.status == .running, "an orphan was finished by another key: \(report)")
            #expect(report.steps.first?.worker != "mallory", "\(report.steps)")

            let restarted = Connection(network.connectWorker(identity: "victim-2", authenticatedKey: alice))
            restarted.hello("gpu-1", running: [attemptID])
            #expect(try await restarted.inbox.first(.code(.welcome)) != nil)
            restarted.send(.attemptFinished(AttemptFinished(attemptID: attemptID, outcome: .succeeded, startedAt: 0, endedAt: 1)))
            let accepted = try await restarted.inbox.first(.acknowledged(attemptID: attemptID, accepted: true))
            #expect(accepted != nil, "the owner's report on its re-attached attempt was not accepted")
            #expect(!restarted.inbox.contains(.cancel(attemptID: attemptID)), "the owner was told to drop its own attempt")
            report = try await service.report(runID: run)
            #expect(report.status == .completed, "\(report)")
            #expect(report.steps.first?.worker == "gpu-1")
            for connection in [victim, impostor, liar, restarted] { connection.inbox.stop() }
        }
    }

    @Test func aSecondLiveConnectionOfTheSameKeyServesBesideTheFirstAndMayTakeItsAttempts() async throws {
        let alice = try TestKeys.publicKey()
        // The clock stands still: the first connection is never silent, however slow the machine.
        let clock = ManualClock()
        try await withAuthenticatedCoordinator(keys: ["gpu-1": alice], clock: clock.serviceClock) { network, service in
            let first = Connection(network.connectWorker(identity: "first", authenticatedKey: alice))
            first.hello("gpu-1")
            #expect(try await first.inbox.first(.code(.welcome)) != nil)
            _ = try await submitOneStep(to: service)
            guard case .dispatch(let dispatch)? = try await first.inbox.first(.code(.dispatch))?.payload else {
                Issue.record("the step was not dispatched")
                return
            }
            // Two workers sharing a key file and a host name: both serve; the attempts are their
            // identity's, so the second may take over the first's.
            let second = Connection(network.connectWorker(identity: "second", authenticatedKey: alice))
            second.hello("gpu-1", running: [dispatch.attemptID])
            #expect(try await second.inbox.first(.code(.welcome)) != nil)
            #expect(!first.inbox.contains(.code(.refuse)), "a live connection of the same key was pushed off")
            let connected = try await service.listWorkers().filter(\.connected).map(\.id).sorted()
            #expect(connected.count == 2 && connected.first == "gpu-1" && connected.last?.hasPrefix("gpu-1#") == true, "\(connected)")
            second.send(.attemptFinished(AttemptFinished(attemptID: dispatch.attemptID, outcome: .succeeded, startedAt: 0, endedAt: 1)))
            #expect(try await second.inbox.first(.acknowledged(attemptID: dispatch.attemptID, accepted: true)) != nil)
            first.inbox.stop()
            second.inbox.stop()
        }
    }

    @Test func theSameKeyReplacesItsSilentEarlierConnection() async throws {
        let alice = try TestKeys.publicKey()
        let clock = ManualClock()
        try await withAuthenticatedCoordinator(keys: ["gpu-1": alice], clock: clock.serviceClock) { network, service in
            let first = Connection(network.connectWorker(identity: "first", authenticatedKey: alice))
            first.hello("gpu-1")
            #expect(try await first.inbox.first(.code(.welcome)) != nil)
            // Silent for a second (20 heartbeat intervals), well short of the loss timeout: a restarted
            // worker whose old connection was not noticed gone yet.
            clock.advance(by: 1000)
            let second = Connection(network.connectWorker(identity: "second", authenticatedKey: alice))
            second.hello("gpu-1")
            #expect(try await second.inbox.first(.code(.welcome)) != nil)
            guard case .refuse(let refuse)? = try await first.inbox.first(.code(.refuse))?.payload else {
                Issue.record("the replaced connection was not told")
                return
            }
            #expect(refuse.reason.contains("replaced"), "\(refuse.reason)")
            let connected = try await service.listWorkers().filter(\.connected)
            #expect(connected.map(\.id) == ["gpu-1"], "\(connected)")
            first.inbox.stop()
            second.inbox.stop()
        }
    }

    @Test func anotherKeyCannotTakeANameWhoseWorkerJustLeft() async throws {
        let alice = try TestKeys.publicKey()
        let mallory = try TestKeys.publicKey()
        let clock = ManualClock()
        try await withAuthenticatedCoordinator(keys: ["gpu-1": alice, "mallory": mallory], clock: clock.serviceClock) { network, service in
            let victim = Connection(network.connectWorker(identity: "victim", authenticatedKey: alice))
            victim.hello("gpu-1")
            #expect(try await victim.inbox.first(.code(.welcome)) != nil)
            victim.transport.close()
            try await waitUntilDisconnected("gpu-1", in: service)
            let squatter = Connection(network.connectWorker(identity: "squatter", authenticatedKey: mallory))
            squatter.hello("gpu-1")
            guard case .refuse(let refuse)? = try await squatter.inbox.first(.code(.refuse))?.payload else {
                Issue.record("another key took the name of a worker that had just left")
                return
            }
            #expect(refuse.reason.contains("disconnected"), "\(refuse.reason)")
            let back = Connection(network.connectWorker(identity: "victim-2", authenticatedKey: alice))
            back.hello("gpu-1")
            #expect(try await back.inbox.first(.code(.welcome)) != nil, "the name's own key comes back")
            for connection in [victim, squatter, back] { connection.inbox.stop() }
        }
    }
}

