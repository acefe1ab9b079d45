import Artifacts
import Foundation
import Protocol
import TestKit
import Testing
import Transport
import Worker

/// The worker's content cache under a size limit, over the in-memory transport with the test
/// playing the coordinator (which stores every upload and acknowledges when told to).
@Suite(.timeLimit(.minutes(1)))
struct WorkerCacheTests {
    let coordinator = MessageFactory(senderID: "coordinator")

    /// Starts a worker with a cache limit on a fresh work directory (prepared by `prepare`),
    /// registers it, and runs `body`.
    func withWorker(
        slots: Int, cacheLimit: Int64, prepare: (String) throws -> Void = { _ in },
        _ body: (inout WorkerExecutionTests.Harness) async throws -> Void
    ) async throws {
        try await WorkerExecutionTests().withWorker(slots: slots, cacheLimit: cacheLimit, prepare: prepare, body)
    }

    /// Answers the worker's uploads until the attempt `id` reports, then acknowledges it; returns
    /// the report and whether the worker asked to fetch anything meanwhile.
    func serve(
        _ harness: inout WorkerExecutionTests.Harness, until id: String, acknowledging: Bool = true
    ) async -> (AttemptFinished?, fetched: Bool) {
        var received: [String: Int64] = [:]
        var sizes: [String: Int64] = [:]
        var fetched = false
        while let message = await harness.next() {
            switch message.payload {
            case .uploadBegin(let begin):
                sizes[begin.blob] = begin.size
                received[begin.blob] = 0
                if begin.size == 0 {
                    harness.network.coordinator.send(coordinator.make(.uploadStored(UploadStored(blob: begin.blob, ok: true))), to: harness.peer)
                } else {
                    harness.network.coordinator.send(coordinator.make(.uploadCredit(UploadCredit(blob: begin.blob, offset: 0, credit: 1000))), to: harness.peer)
                }
            case .uploadChunk(let chunk):
                received[chunk.blob, default: 0] += Int64(message.bulk.count)
                if received[chunk.blob] == sizes[chunk.blob] {
                    harness.network.coordinator.send(coordinator.make(.uploadStored(UploadStored(blob: chunk.blob, ok: true))), to: harness.peer)
                }
            case .fetchRequest:
                fetched = true
            case .attemptFinished(let report) where report.attemptID == id:
                if acknowledging { acknowledge(id, &harness) }
                return (report, fetched)
            default:
                break
            }
        }
        return (nil, fetched)
    }

    func acknowledge(_ id: String, _ harness: inout WorkerExecutionTests.Harness) {
        harness.network.coordinator.send(
            coordinator.make(.attemptAcknowledged(AttemptAcknowledged(attemptID: id, accepted: true))), to: harness.peer)
    }

    func dispatch(_ id: String, _ command: [CommandPiece], inputs: [DispatchInput] = [], outputs: [DispatchOutput] = []) -> Message {
        coordinator.make(.dispatch(Dispatch(attemptID: id, runID: "r", step: id, command: command, inputs: inputs, outputs: outputs)))
    }

    /// `count` bytes no other call with another seed repeats.
    static func noise(_ count: Int, seed: UInt64) -> Data {
        var random = SeededGenerator(seed: seed)
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    static func setModificationTime(_ path: String, secondsAgo: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -secondsAgo)], ofItemAtPath: path)
    }

    static func waitForFile(_ path: String) async throws {
        while !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func aTinyCacheEvictsTheOldestButNeverTheInputsOfARunningAttempt() async throws {
        var input: TreeManifest?
        var fillers: [Digest] = []
        try await withWorker(slots: 2, cacheLimit: 100_000, prepare: { directory in
            let store = try BlobStore(root: directory + "/cache")
            let source = directory + "/source"
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try Self.noise(40_000, seed: 1).write(to: URL(fileURLWithPath: source + "/data.bin"))
            let manifest = try Snapshot.folder(at: source, store: store)
            input = manifest
            // The input is the oldest entry of all: only its pin keeps it.
            for digest in [manifest.digest] + manifest.entries.compactMap(\.digest) {
                try Self.setModificationTime(store.path(of: digest), secondsAgo: 86_400)
            }
            for seed in [2, 3] as [UInt64] {
                let digest = try store.put(Self.noise(25_000, seed: seed))
                try Self.setModificationTime(store.path(of: digest), secondsAgo: 3600)
                fillers.append(digest)
            }
        }) { harness in
            let store = try BlobStore(root: harness.directory + "/cache")
            let manifest = try #require(input)
            let inputBlob = try #require(manifest.entries.first?.digest)
            let checkout = harness.directory + "/cache/checkouts/" + manifest.digest.hex
            #expect(fillers.allSatisfy(store.contains), "90 KB of 100 KB: nothing evicted at start")
            let started = harness.directory + "/reader-started"
            let release = harness.directory + "/release-reader"
            harness.network.coordinator.send(dispatch("reader", [
                .text("cat "), .inputPath("data"), .text("/data.bin > /dev/null && touch \(started) && while [ ! -e \(release) ]; do sleep 0.02; done"),
            ], inputs: [DispatchInput(name: "data", kind: .folder, artifact: manifest.digest.hex)]), to: harness.peer)
            try await Self.waitForFile(started)

            // 70 KB of output: over the limit, so the fillers go, while the older input stays
            // (its checkout too, which would be next): the cache stays over its limit meanwhile.
            harness.network.coordinator.send(dispatch("writer", [
                .text("head -c 70000 /dev/urandom > "), .outputPath("out"), .text("/big.bin"),
            ], outputs: [DispatchOutput(name: "out", kind: .folder)]), to: harness.peer)
            let (written, _) = await serve(&harness, until: "writer")
            #expect(written?.outcome == .succeeded, "\(written?.message ?? "")")
            #expect(fillers.allSatisfy { !store.contains($0) }, "the least recently used blobs were evicted")
            #expect(store.contains(inputBlob), "the running attempt's input was kept")
            #expect(store.contains(manifest.digest))
            #expect(FileManager.default.fileExists(atPath: checkout + "/data.bin"))
            let output = try #require(written?.outputs["out"].flatMap(Digest.init(hex:)))
            #expect(store.contains(output))

            try Data().write(to: URL(fileURLWithPath: release))
            let (read, _) = await serve(&harness, until: "reader")
            #expect(read?.outcome == .succeeded, "\(read?.message ?? "")")

            // Now the input is unpinned and older than the first output: the next output evicts
            // its checkout and then its blob, which is enough.
            harness.network.coordinator.send(dispatch("writer2", [
                .text("head -c 20000 /dev/urandom > "), .outputPath("out"), .text("/more.bin"),
            ], outputs: [DispatchOutput(name: "out", kind: .folder)]), to: harness.peer)
            let (second, _) = await serve(&harness, until: "writer2")
            #expect(second?.outcome == .succeeded, "\(second?.message ?? "")")
            #expect(!FileManager.default.fileExists(atPath: checkout), "the unused checkout was evicted")
            #expect(!store.contains(inputBlob), "and the blob it held")
            #expect(store.contains(output), "the newer output was kept")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: harness.directory + "/cache/checkouts")
            #expect(leftovers.isEmpty, "nothing left aside: \(leftovers)")
        }
    }

    @Test func anOutputStaysUntilTheCoordinatorAcknowledgesTheResult() async throws {
        try await withWorker(slots: 1, cacheLimit: 50_000) { harness in
            let store = try BlobStore(root: harness.directory + "/cache")
            func produce(_ id: String, acknowledging: Bool) async throws -> Digest {
                harness.network.coordinator.send(dispatch(id, [
                    .text("head -c 30000 /dev/urandom > "), .outputPath("out"), .text("/part.bin"),
                ], outputs: [DispatchOutput(name: "out", kind: .folder)]), to: harness.peer)
                let (report, _) = await serve(&harness, until: id, acknowledging: acknowledging)
                #expect(report?.outcome == .succeeded, "\(report?.message ?? "")")
                let artifact = try #require(report?.outputs["out"].flatMap(Digest.init(hex:)))
                return try #require(try store.manifest(artifact).entries.first?.digest)
            }
            let first = try await produce("p1", acknowledging: false)
            // Unacknowledged, the older output stays although the cache goes over its limit.
            let second = try await produce("p2", acknowledging: true)
            #expect(store.contains(first) && store.contains(second))
            acknowledge("p1", &harness)
            // Acknowledged now: the least recently used output goes to make room.
            let third = try await produce("p3", acknowledging: true)
            #expect(!store.contains(first), "the acknowledged, least recently used output was evicted")
            #expect(!store.contains(second), "room for the third took the next least recently used output too")
            #expect(store.contains(third))
        }
    }

    @Test func aConsumerOnTheProducersWorkerReadsHardLinksToTheProducersBlobs() async throws {
        try await withWorker(slots: 1, cacheLimit: 1 << 30) { harness in
            let store = try BlobStore(root: harness.directory + "/cache")
            harness.network.coordinator.send(dispatch("producer", [
                .text("head -c 10000 /dev/urandom > "), .outputPath("model"), .text("/weights.bin"),
            ], outputs: [DispatchOutput(name: "model", kind: .folder)]), to: harness.peer)
            let (produced, _) = await serve(&harness, until: "producer")
            #expect(produced?.outcome == .succeeded, "\(produced?.message ?? "")")
            let artifact = try #require(produced?.outputs["model"].flatMap(Digest.init(hex:)))
            let blob = try #require(try store.manifest(artifact).entries.first?.digest)

            let log = harness.directory + "/consumer-stat"
            harness.network.coordinator.send(dispatch("consumer", [
                .text("stat -c '%i %h' "), .inputPath("model"), .text("/weights.bin > \(log)"),
            ], inputs: [DispatchInput(name: "model", kind: .folder, artifact: artifact.hex)]), to: harness.peer)
            let (consumed, fetched) = await serve(&harness, until: "consumer")
            #expect(consumed?.outcome == .succeeded, "\(consumed?.message ?? "")")
            #expect(!fetched, "the input came from this worker's cache, not the coordinator")

            let seen = try String(contentsOfFile: log, encoding: .utf8).split(separator: " ").compactMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            var cached = stat()
            #expect(stat(store.path(of: blob), &cached) == 0)
            #expect(seen.count == 2, "\(seen)")
            #expect(seen.first == UInt64(cached.st_ino), "the consumer's input file is the cached blob itself (a hard link, no copy)")
            #expect((seen.last ?? 0) >= 2, "the blob has at least the checkout's link besides its own")
        }
    }

    @Test func metricsAreReadAChunkAtATimeKeepingEachNamesLastValue() async throws {
        try await withWorker(slots: 1, cacheLimit: 1 << 20) { harness in
            // About 2 MiB of lines, so they span several reads; a line cut across two reads still counts.
            let script = "for i in $(seq 1 60000); do echo '{\"name\": \"loss\", \"value\": '$i'}'; done > $CONDUIT_METRICS_FILE; "
                + "echo 'not json' >> $CONDUIT_METRICS_FILE; printf '{\"name\": \"acc\", \"value\": 0.5}' >> $CONDUIT_METRICS_FILE"
            harness.network.coordinator.send(dispatch("m", [.text(script)]), to: harness.peer)
            var metrics: [String: Double] = [:]
            while let message = await harness.next() {
                // Each message carries the latest values among what it sends; the coordinator merges them.
                if case .metrics(let reported) = message.payload { metrics.merge(reported.values) { _, new in new } }
                if case .attemptFinished = message.payload { break }
            }
            #expect(metrics == ["loss": 60000, "acc": 0.5])
        }
    }

    @Test func aRestartedWorkerRebuildsItsCacheFromFileTimesAndRemovesPartialCheckouts() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-cache")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BlobStore(root: directory + "/cache")
        var blobs: [Digest] = []
        for (seed, hoursAgo) in [(11, 3.0), (12, 1.0), (13, 2.0)] as [(UInt64, Double)] {
            let digest = try store.put(Self.noise(10_000, seed: seed))
            try Self.setModificationTime(store.path(of: digest), secondsAgo: hoursAgo * 3600)
            blobs.append(digest)
        }
        let checkouts = directory + "/cache/checkouts"
        let partial = checkouts + "/.partial-1-1"
        let orphan = checkouts + "/" + String(repeating: "cd", count: 32)  // its manifest is not stored
        for path in [partial + "/nested", orphan] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        try "x".write(toFile: partial + "/nested/file", atomically: false, encoding: .utf8)
        chmod(partial + "/nested", 0o555)
        chmod(partial, 0o555)

        // 30 KB on disk, 25 KB allowed: the blob used three hours ago goes.
        _ = try WorkerService(
            configuration: WorkerConfiguration(name: "w", workDirectory: directory, cacheLimitBytes: 25_000),
            transport: InMemoryNetwork().connectWorker(identity: "w-1"))
        #expect(!store.contains(blobs[0]))
        #expect(store.contains(blobs[1]) && store.contains(blobs[2]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkouts).isEmpty)
    }
}
