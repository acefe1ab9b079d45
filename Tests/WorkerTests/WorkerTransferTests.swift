import Artifacts
import Foundation
import Protocol
import Testing
import Worker

/// Fetches and uploads over the in-memory transport, with the test playing the coordinator: resuming
/// from what is already there, and dropping a damaged chunk without failing the transfer.
extension WorkerExecutionTests {
    @Test func aFetchResumesAfterThePartialCopyAndAsksAgainForADamagedChunk() async throws {
        let content = (0..<40).map { UInt8($0 * 3) }
        let blob = SHA256Hasher.digest(of: content).hex
        var artifact = ""
        try await withWorker(slots: 1, prepare: { directory in
            let origin = try BlobStore(root: directory + "/origin")
            let source = directory + "/source"
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try Data(content).write(to: URL(fileURLWithPath: source + "/data.bin"))
            let manifest = try Snapshot.folder(at: source, store: origin)
            let cache = try BlobStore(root: directory + "/cache")
            try cache.put(manifest)
            artifact = manifest.digest.hex
            // An earlier fetch of the blob was interrupted after 16 bytes.
            try Data(content[0..<16]).write(to: URL(fileURLWithPath: directory + "/cache/tmp/\(blob).partial"))
        }) { harness in
            let copy = harness.directory + "/copy"
            harness.network.coordinator.send(dispatch("x", [.text("cat "), .inputPath("data"), .text("/data.bin > \(copy)")],
                                                      inputs: [DispatchInput(name: "data", kind: .folder, artifact: artifact)]), to: harness.peer)
            var requests: [FetchRequest] = []
            while requests.isEmpty, let message = await harness.next() {
                if case .fetchRequest(let request) = message.payload { requests.append(request) }
            }
            #expect(requests.first?.blob == blob)
            #expect(requests.first?.offset == 16, "the fetch starts where the partial copy ends, not at 0")

            func chunk(_ offset: Int, damaged: Bool = false) -> Message {
                let end = min(offset + 8, content.count)
                let bytes = Array(content[offset..<end])
                let checksum = PrefixChecksum.of(Array(content[0..<end])) ^ (damaged ? 1 : 0)
                return coordinator.make(.fetchChunk(FetchChunk(blob: blob, offset: Int64(offset), size: Int64(content.count), checksum: checksum)), bulk: bytes)
            }
            harness.network.coordinator.send(chunk(16, damaged: true), to: harness.peer)
            while requests.count < 2, let message = await harness.next() {
                if case .fetchRequest(let request) = message.payload { requests.append(request) }
            }
            #expect(requests.last?.offset == 16, "a damaged chunk is asked for again from the end of the copy")
            for offset in stride(from: 16, to: content.count, by: 8) {
                harness.network.coordinator.send(chunk(offset), to: harness.peer)
            }
            var outcome: AttemptOutcome?
            while outcome == nil, let message = await harness.next() {
                if case .attemptFinished(let report) = message.payload { outcome = report.outcome }
            }
            #expect(outcome == .succeeded)
            let copied = FileManager.default.contents(atPath: copy)
            #expect(copied == Data(content))
        }
    }

    @Test func anUploadResumesFromTheAcknowledgedOffsetAndResendsFromARewind() async throws {
        try await withWorker(slots: 1, chunkBytes: 8, heartbeat: .seconds(1)) { harness in
            harness.network.coordinator.send(coordinator.make(.dispatch(Dispatch(
                attemptID: "x", runID: "r", step: "x",
                command: [.text("printf '%064d' 7 > "), .outputPath("o"), .text("/data.bin")],
                outputs: [DispatchOutput(name: "o", kind: .folder)]))), to: harness.peer)
            let content = Array(String(format: "%064d", 7).utf8)
            let large = SHA256Hasher.digest(of: content).hex
            var received: [String: [UInt8]] = [:]
            var largeOffsets: [Int64] = []
            var begins = 0
            var outcome: AttemptOutcome?
            func credit(_ blob: String, _ offset: Int, _ credit: Int, rewind: Bool = false) -> Message {
                coordinator.make(.uploadCredit(UploadCredit(blob: blob, offset: Int64(offset), credit: credit, rewind: rewind)))
            }
            while outcome == nil, let message = await harness.next() {
                switch message.payload {
                case .uploadBegin(let begin) where begin.blob == large:
                    begins += 1
                    // First: room for two chunks. Again (after the stall): the coordinator holds 24 bytes.
                    let reply = begins == 1 ? credit(large, 0, 2) : credit(large, 24, 100)
                    harness.network.coordinator.send(reply, to: harness.peer)
                case .uploadBegin(let begin):
                    harness.network.coordinator.send(credit(begin.blob, 0, 1000), to: harness.peer)
                case .uploadChunk(let chunk):
                    if chunk.blob == large {
                        let end = Int(chunk.offset) + message.bulk.count
                        #expect(PrefixChecksum.of(Array(content[0..<end])) == chunk.checksum, "every chunk carries the SHA-256 of the blob through it")
                        largeOffsets.append(chunk.offset)
                        if largeOffsets == [0, 8] {
                            // The chunk at 8 arrived damaged: send again from 8.
                            harness.network.coordinator.send(credit(large, 8, 2, rewind: true), to: harness.peer)
                        }
                        // After [0, 8, 8, 16] the coordinator stays silent: the worker begins again.
                    }
                    var bytes = received[chunk.blob, default: []]
                    if Int64(bytes.count) == chunk.offset { bytes += message.bulk }
                    received[chunk.blob] = bytes
                    let isComplete = chunk.blob == large ? bytes.count == content.count : SHA256Hasher.digest(of: bytes).hex == chunk.blob
                    if isComplete {
                        harness.network.coordinator.send(coordinator.make(.uploadStored(UploadStored(blob: chunk.blob, ok: true))), to: harness.peer)
                    }
                case .attemptFinished(let report):
                    outcome = report.outcome
                default:
                    break
                }
            }
            #expect(outcome == .succeeded)
            #expect(begins == 2, "the stalled upload began again once")
            #expect(Array(largeOffsets.prefix(4)) == [0, 8, 8, 16], "a rewind resends from its offset")
            #expect(largeOffsets.dropFirst(4).first == 24, "after beginning again it resumes from the acknowledged 24, not 0: \(largeOffsets)")
            #expect(received[large] == content)
        }
    }
}
