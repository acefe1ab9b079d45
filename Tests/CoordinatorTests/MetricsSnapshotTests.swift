import Coordinator
import Foundation
import Protocol
import TestKit
import Testing
import Transport

/// The gauges `/metrics` shows, read from a coordinator over the in-memory transport.
@Suite(.timeLimit(.minutes(1)))
struct MetricsSnapshotTests {
    @Test func aConnectedWorkerShowsItsSlotsGPUsAndItsLabelsEmptyQueue() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-coordinator")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: network.coordinator)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            let empty = await service.metricsSnapshot()
            #expect(empty.queues.isEmpty && empty.workers.isEmpty && empty.activeRuns == 0)

            let gpus = (0..<2).map { GPUDevice(index: $0, uuid: "GPU-\($0)", name: "A100", memoryBytes: 80 << 30, freeMemoryBytes: 80 << 30) }
            let capabilities = WorkerCapabilities(cores: 8, memoryBytes: 32 << 30, slots: 3, labels: ["cpu", "gpu"], hostname: "h", gpus: gpus)
            let worker = network.connectWorker(identity: "w1")
            worker.send(Message(
                envelope: Envelope(code: .hello, messageID: 1, senderID: "w1"),
                payload: .hello(Hello(workerName: "w1", capabilities: capabilities))))
            var welcomed = false
            for await event in worker.events {
                if case .message(let message) = event, case .welcome = message.payload { welcomed = true; break }
            }
            #expect(welcomed)

            let snapshot = await service.metricsSnapshot()
            #expect(snapshot.activeRuns == 0)
            #expect(snapshot.queues.map(\.label) == ["cpu", "gpu"])
            #expect(snapshot.queues.allSatisfy { $0.depth == 0 && $0.oldestWaitingSeconds == 0 })
            let shown = try #require(snapshot.workers.first)
            #expect(snapshot.workers.count == 1)
            #expect(shown.name == "w1")
            #expect(shown.slots == 3 && shown.slotsLeased == 0 && shown.slotsFree == 3)
            #expect(shown.gpus == 2 && shown.gpusLeased == 0 && shown.gpusFree == 2)
            #expect(!shown.draining)
            network.coordinator.close()
            group.cancelAll()
        }
    }
}
