import Artifacts
import Foundation
import Protocol
import TestKit
import Testing
import Transport
import Worker

/// How a worker runs what it is sent, over the in-memory transport with the test playing the
/// coordinator.
@Suite(.timeLimit(.minutes(1)))
struct WorkerExecutionTests {
    let coordinator = MessageFactory(senderID: "coordinator")

    /// A registered worker and the coordinator's view of its messages.
    struct Harness {
        let network: InMemoryNetwork
        let worker: WorkerService
        let peer: PeerID
        let directory: String
        var events: AsyncStream<CoordinatorTransportEvent>.Iterator

        /// The next message the worker sent, skipping heartbeats.
        mutating func next() async -> Message? {
            while let event = await events.next() {
                guard case .message(_, let message) = event else { continue }
                if case .heartbeat = message.payload { continue }
                return message
            }
            return nil
        }
    }

    /// Starts a `slots`-slot worker (with a content cache of at most `cacheLimit` bytes, when
    /// given) on a fresh work directory (prepared by `prepare`), registers it, and runs `body`.
    func withWorker(
        slots: Int, cacheLimit: Int64? = nil, chunkBytes: Int = 512 * 1024, heartbeat: Duration = .seconds(5),
        silence: Duration = .seconds(10), prepare: (String) throws -> Void = { _ in }, _ body: (inout Harness) async throws -> Void
    ) async throws {
        let network = InMemoryNetwork()
        let directory = try ProcessHarness.temporaryDirectory("conduit-worker")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try prepare(directory)
        let worker = try WorkerService(
            configuration: WorkerConfiguration(
                name: "w", slots: slots, workDirectory: directory, heartbeatInterval: heartbeat, coordinatorSilenceTimeout: silence,
                chunkBytes: chunkBytes,
                cacheLimitBytes: cacheLimit),
            transport: network.connectWorker(identity: "w-1")
        )
        var events = network.coordinator.events.makeAsyncIterator()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            var peer: PeerID?
            while let event = await events.next() {
                if case .message(let from, let message) = event, case .hello = message.payload {
                    peer = from
                    break
                }
            }
            let registered = try #require(peer)
            // This stand-in coordinator renews no lease: a long one keeps a slow machine from fencing
            // attempts mid-test (fencing has its own tests, with leases that are renewed or not on purpose).
            network.coordinator.send(
                coordinator.make(.welcome(Welcome(workerID: "w", heartbeatIntervalMilliseconds: 5000, leaseMilliseconds: 120_000))), to: registered
            )
            var harness = Harness(network: network, worker: worker, peer: registered, directory: directory, events: events)
            try await body(&harness)
            group.cancelAll()
        }
    }

    func dispatch(_ id: String, _ command: [CommandPiece], inputs: [DispatchInput] = []) -> Message {
        coordinator.make(.dispatch(Dispatch(attemptID: id, runID: "r", step: id, command: command, inputs: inputs)))
    }

    @Test func attemptsBeyondTheSlotsWaitAndACanceledWaitingAttemptNeverStarts() async throws {
        try await withWorker(slots: 1, prepare: { _ in }) { harness in
            let marker = harness.directory + "/order"
            harness.network.coordinator.send(dispatch("a", [.text("sleep 0.3; echo a >> \(marker)")]), to: harness.peer)
            harness.network.coordinator.send(dispatch("b", [.text("echo b >> \(marker)")]), to: harness.peer)
            harness.network.coordinator.send(dispatch("c", [.text("echo c >> \(marker)")]), to: harness.peer)
            harness.network.coordinator.send(coordinator.make(.cancel(Cancel(attemptID: "b", reason: "test"))), to: harness.peer)
            var seen: [String] = []
            var finishedAttempts: Set<String> = []
            // Unacknowledged reports are sent again every second: each attempt counts once.
            while finishedAttempts.count < 3, let message = await harness.next() {
                switch message.payload {
                case .attemptStarted(let started): seen.append("started \(started.attemptID)")
                case .attemptFinished(let finished) where finishedAttempts.insert(finished.attemptID).inserted:
                    seen.append("finished \(finished.attemptID) \(finished.outcome.rawValue)")
                default: break
                }
            }
            // One slot: "c" runs only after "a" ended (the marker file shows the order); "b" was
            // canceled while it waited.
            #expect(!seen.contains("started b"), "\(seen)")
            #expect(seen.contains("finished b canceled"), "\(seen)")
            // "a" runs long enough to be reported started; "c" may end before its start is worth a message.
            #expect(seen.contains("started a"), "\(seen)")
            let aEnded = try #require(seen.firstIndex(of: "finished a succeeded"))
            let cEnded = try #require(seen.firstIndex(of: "finished c succeeded"))
            #expect(aEnded < cEnded, "\(seen)")
            #expect(seen.firstIndex(of: "finished b canceled")! < aEnded, "canceled at once, not after a slot freed: \(seen)")
            let order = try String(contentsOfFile: marker, encoding: .utf8)
            #expect(order == "a\nc\n")
        }
    }

    @Test func twoSlotsRunTwoAttemptsAtOnceEachInItsOwnDirectory() async throws {
        try await withWorker(slots: 2, prepare: { _ in }) { harness in
            let log = harness.directory + "/seen"
            for id in ["x", "y"] {
                // Each records its working directory, then waits until both have started.
                harness.network.coordinator.send(dispatch(id, [.text("pwd > \(log)-\(id); while [ ! -e \(log)-x ] || [ ! -e \(log)-y ]; do sleep 0.05; done")]), to: harness.peer)
            }
            var finished: [String: AttemptOutcome] = [:]
            while finished.count < 2, let message = await harness.next() {
                if case .attemptFinished(let report) = message.payload { finished[report.attemptID] = report.outcome }
            }
            // With one slot at a time, the first would wait forever for the second: both ran at once.
            #expect(finished == ["x": .succeeded, "y": .succeeded])
            let directories = try ["x", "y"].map { try String(contentsOfFile: "\(log)-\($0)", encoding: .utf8) }
            #expect(directories[0] != directories[1], "each attempt has its own directory: \(directories)")
            #expect(directories.allSatisfy { $0.contains("/attempts/") })
        }
    }

    @Test func aFetchInterruptedByARestartedCoordinatorEndsTheAttemptInsteadOfHanging() async throws {
        try await withWorker(slots: 1, prepare: { _ in }) { harness in
            let missing = String(repeating: "ab", count: 32)
            harness.network.coordinator.send(dispatch("x", [.text("true")], inputs: [DispatchInput(name: "data", kind: .folder, artifact: missing)]), to: harness.peer)
            var fetching = false
            while !fetching, let message = await harness.next() {
                if case .fetchRequest(let request) = message.payload { fetching = request.blob == missing }
            }
            #expect(fetching, "the worker asks for the input it lacks")
            // The coordinator restarted and lost that request: it asks the worker to register again.
            harness.network.coordinator.send(coordinator.make(.refuse(Refuse(reason: "unknown worker", helloRequired: true))), to: harness.peer)
            var outcome: AttemptOutcome?
            while outcome == nil, let message = await harness.next() {
                if case .attemptFinished(let report) = message.payload, report.attemptID == "x" { outcome = report.outcome }
            }
            #expect(outcome == .workerError, "the attempt ends (and frees its slot) so it can be retried")
        }
    }

    @Test func inputsAreSharedReadOnlyCheckouts() async throws {
        var artifact = ""
        try await withWorker(slots: 2, prepare: { directory in
            // The input is already in the worker's cache, as if fetched earlier.
            let store = try BlobStore(root: directory + "/cache")
            let source = directory + "/source"
            try FileManager.default.createDirectory(atPath: source + "/nested", withIntermediateDirectories: true)
            try "rows\n".write(toFile: source + "/nested/data.csv", atomically: true, encoding: .utf8)
            let manifest = try Snapshot.folder(at: source, store: store)
            try store.put(manifest)
            artifact = manifest.digest.hex
        }) { harness in
            let log = harness.directory + "/seen"
            for id in ["x", "y"] {
                // Each attempt prints "PATH MODE", then the file's line, to its own log.
                harness.network.coordinator.send(dispatch(id, [
                    .text("{ printf '%s ' "), .inputPath("data"), .text("; stat -c %a "), .inputPath("data"),
                    .text("; cat "), .inputPath("data"), .text("/nested/data.csv; } > \(log)-\(id)"),
                ], inputs: [DispatchInput(name: "data", kind: .folder, artifact: artifact)]), to: harness.peer)
            }
            var finished = 0
            while finished < 2, let message = await harness.next() {
                if case .attemptFinished(let report) = message.payload {
                    #expect(report.outcome == .succeeded, "\(report.message ?? "")")
                    finished += 1
                }
            }
            let logs = try ["x", "y"].map { try String(contentsOfFile: "\(log)-\($0)", encoding: .utf8).split(separator: "\n").map(String.init) }
            let lines = logs.flatMap { $0 }
            let paths = Set(logs.compactMap(\.first))
            #expect(logs.allSatisfy { $0.count == 2 }, "\(logs)")
            #expect(paths.count == 1, "both attempts read the same checkout: \(logs)")
            #expect(paths.first?.hasSuffix(" 555") == true, "checkouts are read-only: \(logs)")
            #expect(paths.first?.contains("/cache/checkouts/\(artifact)") == true)
            #expect(lines.filter { $0 == "rows" }.count == 2)
        }
    }
}

@Suite struct SafeNameTests {
    @Test func namesNeverLeaveTheirDirectory() {
        #expect(WorkerService.safeName("../etc") == ".._etc")
        #expect(WorkerService.safeName("..") == "_")
        #expect(WorkerService.safeName(".") == "_")
        #expect(WorkerService.safeName("") == "_")
        #expect(WorkerService.safeName("gpu-1.node_a") == "gpu-1.node_a")
    }
}
