import Foundation
import Protocol
import TestKit
import Testing
import Transport
import Worker

/// The worker's side of registration, over the in-memory transport.
@Suite(.timeLimit(.minutes(1)))
struct WorkerRegistrationTests {
    let coordinator = MessageFactory(senderID: "coordinator")

    /// Waits for the next well-formed message the worker sent.
    func nextMessage(_ events: inout AsyncStream<CoordinatorTransportEvent>.Iterator) async -> (PeerID, Message)? {
        while let event = await events.next() {
            if case .message(let peer, let message) = event { return (peer, message) }
        }
        return nil
    }

    func makeWorker(_ network: InMemoryNetwork, labels: [String] = [], slots: Int = 1) throws -> WorkerService {
        let directory = try ProcessHarness.temporaryDirectory("conduit-worker")
        return try WorkerService(
            configuration: WorkerConfiguration(name: "w", labels: labels, slots: slots, workDirectory: directory, heartbeatInterval: .milliseconds(50)),
            transport: network.connectWorker(identity: "w-1")
        )
    }

    @Test func aRefusalEndsTheWorkerWithTheCoordinatorsReason() async throws {
        let network = InMemoryNetwork()
        let worker = try makeWorker(network, labels: ["gpu", "highmem"], slots: 3)
        var events = network.coordinator.events.makeAsyncIterator()
        async let outcome: Result<Void, any Error> = { do { try await worker.run(); return .success(()) } catch { return .failure(error) } }()
        guard let (peer, hello) = await nextMessage(&events), case .hello(let body) = hello.payload else {
            Issue.record("the worker must say hello first")
            return
        }
        #expect(body.protocolVersion == ProtocolVersion.current)
        #expect(body.capabilities.cores > 0 && body.capabilities.memoryBytes > 0)
        #expect(body.capabilities.labels == ["gpu", "highmem"] && body.capabilities.slots == 3)
        network.coordinator.send(coordinator.make(.refuse(Refuse(reason: "protocol version 1 is not supported"))), to: peer)
        guard case .failure(let error) = await outcome else {
            Issue.record("a refused worker must stop with an error")
            return
        }
        #expect((error as? WorkerError)?.code == .refused)
        #expect("\(error)".contains("protocol version 1 is not supported"))
    }

    @Test func helloRequiredMakesTheWorkerRegisterAgainAndGarbageIsIgnored() async throws {
        let network = InMemoryNetwork()
        let worker = try makeWorker(network)
        var events = network.coordinator.events.makeAsyncIterator()
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            guard let (peer, first) = await nextMessage(&events), case .hello = first.payload else {
                Issue.record("the worker must say hello first")
                return
            }
            network.coordinator.send(coordinator.make(.welcome(Welcome(workerID: "w", heartbeatIntervalMilliseconds: 50))), to: peer)
            network.injectRawToWorker([[1, 2, 3]], identity: "w-1")
            network.injectRawToWorker([[0xC0, 0xD1, 0, 1, 0x7F, 0x7F], [1]], identity: "w-1")
            // A restarted coordinator does not know the worker: it must say hello again, not stop.
            network.coordinator.send(coordinator.make(.refuse(Refuse(reason: "unknown worker: send hello first", helloRequired: true))), to: peer)
            var helloAgain = false
            for _ in 0..<20 {
                guard let (_, message) = await nextMessage(&events) else { break }
                if case .hello = message.payload {
                    helloAgain = true
                    break
                }
            }
            #expect(helloAgain)
            group.cancelAll()
        }
    }
}
