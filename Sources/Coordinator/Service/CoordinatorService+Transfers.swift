import Artifacts
import Foundation
import Logging
import Protocol
import Store
import Transport

extension CoordinatorService {
    func logPath(attemptID: String) -> String {
        logDirectory + "/" + attemptID + ".log"
    }

    /// Appends a log chunk to the attempt's log file; chunks from stale attempts are dropped.
    func appendLog(_ chunk: LogChunk, bytes: [UInt8], workerID: String) {
        guard var attempt = currentAttempt(chunk.attemptID, workerID: workerID), chunk.sequence >= attempt.logSequence else { return }
        attempt.logSequence = chunk.sequence + 1
        attempts[chunk.attemptID] = attempt
        let path = logPath(attemptID: chunk.attemptID)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(bytes))
    }

    func recordMetrics(_ metrics: Metrics, workerID: String) {
        guard let attempt = currentAttempt(metrics.attemptID, workerID: workerID), var step = runs[attempt.runID]?.steps[attempt.step] else { return }
        var values = step.metricsJSON.flatMap { try? JSONDecoder().decode([String: Double].self, from: Data($0.utf8)) } ?? [:]
        values.merge(metrics.values.filter { $0.value.isFinite }) { _, new in new }
        step.metricsJSON = String(decoding: (try? JSONEncoder().encode(values)) ?? Data("{}".utf8), as: UTF8.self)
        runs[attempt.runID]?.steps[attempt.step] = step
        batch.update(step, urgent: false)  // progress: rides along with the attempt's commit
        defer { evaluateEarlyTermination(runID: attempt.runID, step: attempt.step, attemptID: attempt.id, firstPoint: metrics.firstPoint, points: metrics.points) }
        // The history: every value (a repeated point is recorded once), params and tags as text.
        // While the disk refuses writes, the history is not kept (it would only grow the held batch).
        guard unwrittenSince == nil else { return }
        // Point numbers come from the worker: a number that cannot be one is not recorded.
        guard metrics.firstPoint >= 0, metrics.firstPoint <= Int(Int32.max) - Self.maximumPointsPerMessage else {
            logger.warning("dropped the metric values of a metrics message numbered \(metrics.firstPoint)", metadata: ["attempt": "\(attempt.id)"])
            return
        }
        let points = metrics.points.prefix(Self.maximumPointsPerMessage).enumerated().compactMap { offset, point -> MetricPointRecord? in
            guard point.value.isFinite, !point.key.isEmpty, point.key.utf8.count <= 250 else { return nil }
            return MetricPointRecord(
                attemptID: attempt.id, point: metrics.firstPoint + offset, runID: attempt.runID, step: attempt.step,
                mlflowRun: String((point.run ?? "").prefix(64)), key: point.key, stepIndex: point.step, timestamp: point.timestamp, value: point.value
            )
        }
        let tracked = [("param", metrics.params), ("tag", metrics.tags)].flatMap { kind, values in
            values.prefix(1000).compactMap { value -> TrackedValueRecord? in
                guard !value.key.isEmpty, value.key.utf8.count <= 250 else { return nil }
                return TrackedValueRecord(
                    attemptID: attempt.id, runID: attempt.runID, step: attempt.step, kind: kind, mlflowRun: String((value.run ?? "").prefix(64)),
                    key: value.key, value: String(value.value.prefix(8000))
                )
            }
        }
        if !points.isEmpty || !tracked.isEmpty { batch.track(points: points, values: tracked) }
    }

    /// The most metric values one `metrics` message may record (the worker sends at most 5,000).
    static let maximumPointsPerMessage = 10_000

    /// Sends up to `credit` chunks of a blob from `offset`.
    func serveFetch(_ request: FetchRequest, to peer: PeerID) {
        guard let digest = Digest(hex: request.blob), let size = blobs.size(of: digest) else {
            send(.fetchFailed(FetchFailed(blob: request.blob, reason: "the coordinator has no blob \(request.blob)")), to: peer)
            return
        }
        var offset = max(0, request.offset)
        let credit = min(max(1, request.credit), 64)
        if size == 0 {
            send(.fetchChunk(FetchChunk(blob: request.blob, offset: 0, size: 0, checksum: PrefixChecksum.of([]))), to: peer, bulk: [])
            return
        }
        // Requests of a fetch follow one another, so the checksummer is kept between them: one that
        // has to hash (the blob's chunk sums are not remembered) goes on where the last request left it.
        let key = uploadKey(request.blob, peer)
        // Verifying: every byte served is hashed and the digest checked before the last chunk leaves,
        // so a blob damaged on this disk is quarantined on its first read (see docs/data-plane.md).
        var checksums = fetchSenders.removeValue(forKey: key) ?? ChunkChecksummer(digest, size: size, in: blobs, verifying: true)
        do {
            for _ in 0..<credit where offset < size {
                let count = Int(min(Int64(configuration.chunkBytes), size - offset))
                let bytes = try blobs.read(digest, offset: offset, count: count)
                if bytes.isEmpty { break }
                let checksum = try checksums.checksum(of: bytes, at: offset, in: blobs)
                let chunk = FetchChunk(blob: request.blob, offset: offset, size: size, checksum: checksum)
                send(.fetchChunk(chunk), to: peer, bulk: bytes)
                telemetry.fetchedBytes.increment(by: bytes.count)
                offset += Int64(bytes.count)
            }
        } catch where error.code == .hashMismatch {
            quarantineDamagedBlob(digest, foundBy: "serving a fetch to \(peer)")
            send(.fetchFailed(FetchFailed(
                blob: request.blob,
                reason: "blob \(request.blob.prefix(12)) failed verification on the coordinator and was quarantined; "
                    + "the step that made it runs again on the next submission")), to: peer)
            return
        } catch {
            send(.fetchFailed(FetchFailed(blob: request.blob, reason: "reading blob failed: \(error)")), to: peer)
            return
        }
        if offset < size {
            if fetchSenders.count >= Self.maximumFetchSenders { fetchSenders.removeAll() }  // abandoned fetches
            fetchSenders[key] = checksums
        }
    }

    /// Fetches whose checksummer the coordinator keeps between requests; beyond, it forgets them all
    /// (a fetch whose blob's chunk sums are not remembered then pays one read of its prefix).
    static let maximumFetchSenders = 1024

    func uploadKey(_ blob: String, _ peer: PeerID) -> String {
        blob + "@" + peer.description
    }

    func beginUpload(_ begin: UploadBegin, workerID: String, peer: PeerID) {
        guard let digest = Digest(hex: begin.blob), begin.size >= 0 else {
            send(.uploadStored(UploadStored(blob: begin.blob, ok: false, reason: "not a SHA-256 digest")), to: peer)
            return
        }
        guard currentAttempt(begin.attemptID, workerID: workerID) != nil else {
            send(.uploadStored(UploadStored(blob: begin.blob, ok: false, reason: "attempt \(begin.attemptID) is no longer current")), to: peer)
            return
        }
        if blobs.contains(digest) {
            send(.uploadStored(UploadStored(blob: begin.blob, ok: true)), to: peer)
            return
        }
        if let existing = uploads[uploadKey(begin.blob, peer)] {
            // The worker begins again an upload it heard nothing about for a while (messages lost
            // with a dropped connection): credit from what is already written.
            send(.uploadCredit(UploadCredit(blob: begin.blob, offset: existing.writer.offset, credit: configuration.creditChunks)), to: peer)
            return
        }
        guard begin.size <= Self.maximumUploadBytes else {
            send(.uploadStored(UploadStored(blob: begin.blob, ok: false, reason: "a blob of \(begin.size) bytes is larger than the coordinator stores (at most \(Self.maximumUploadBytes >> 40) TiB)")), to: peer)
            return
        }
        let needed = max(0, begin.size - blobs.partialSize(of: digest))
        if dispatchPause != nil || !hasRoom(for: needed) {
            // The disk is full, or would be with this blob: the upload waits (the worker keeps the
            // bytes) until space returns, and its step says so. Retried at every tick (checkDiskSpace).
            let free = configuration.freeSpace(configuration.dataDirectory)
            uploadWaits[begin.attemptID] = "coordinator disk full (\(free.map { "\($0 >> 20)" } ?? "?") MiB free, "
                + "\((configuration.minimumFreeBytes + needed + (1 << 20) - 1) >> 20) MiB needed)"
            if !deferredUploads.contains(where: { $0.0.blob == begin.blob && $0.peer == peer }) {
                deferredUploads.append((begin, workerID: workerID, peer: peer))
            }
            checkDiskSpace()
            bump()
            return
        }
        do {
            let writer = try blobs.openWriter(for: digest, size: begin.size)
            if begin.size == 0 || writer.offset >= begin.size {
                try writer.finish()
                send(.uploadStored(UploadStored(blob: begin.blob, ok: true)), to: peer)
                return
            }
            uploads[uploadKey(begin.blob, peer)] = UploadState(writer: writer, size: begin.size, peer: peer)
            send(.uploadCredit(UploadCredit(blob: begin.blob, offset: writer.offset, credit: configuration.creditChunks)), to: peer)
        } catch where error.code == .writerBusy {
            // Another worker is uploading the same bytes: this one gets that upload's outcome.
            uploadWaiters[begin.blob, default: []].append(peer)
        } catch {
            send(.uploadStored(UploadStored(blob: begin.blob, ok: false, reason: "the coordinator cannot store it: \(error)")), to: peer)
        }
    }

    /// The largest blob an upload may announce (1 PiB): a bound that keeps the disk-space arithmetic
    /// far from overflowing whatever a worker sends.
    static let maximumUploadBytes: Int64 = 1 << 50

    /// Whether `bytes` more can be written under the data directory and still leave
    /// `minimumFreeBytes` free (true when the free space is unknown).
    func hasRoom(for bytes: Int64) -> Bool {
        guard let free = configuration.freeSpace(configuration.dataDirectory) else { return true }
        return free - bytes >= configuration.minimumFreeBytes
    }

    /// Begins again the uploads that waited for disk space and now fit; forgets those whose worker
    /// or attempt is gone. One upload that can never fit waits alone (its step says so) and holds
    /// nothing else up.
    func retryDeferredUploads() {
        guard dispatchPause == nil, !deferredUploads.isEmpty, !retryingUploads else { return }
        retryingUploads = true
        defer { retryingUploads = false }
        var ready: [(UploadBegin, workerID: String, peer: PeerID)] = []
        var still: [(UploadBegin, workerID: String, peer: PeerID)] = []
        for entry in deferredUploads {
            let (begin, workerID, _) = entry
            guard workers[workerID] != nil, currentAttempt(begin.attemptID, workerID: workerID) != nil,
                  let digest = Digest(hex: begin.blob) else {
                uploadWaits[begin.attemptID] = nil
                continue
            }
            if hasRoom(for: max(0, begin.size - blobs.partialSize(of: digest))) { ready.append(entry) } else { still.append(entry) }
        }
        deferredUploads = still
        for (begin, workerID, peer) in ready {
            uploadWaits[begin.attemptID] = nil
            beginUpload(begin, workerID: workerID, peer: peer)
        }
        if !ready.isEmpty { bump() }
    }

    /// Consecutive rewinds after which an upload fails: the link corrupts everything it carries.
    static let maximumRewinds = 16

    func receiveUpload(_ chunk: UploadChunk, bytes: [UInt8], peer: PeerID) {
        let key = uploadKey(chunk.blob, peer)
        guard var state = uploads[key] else { return }
        let stored = state.writer.offset
        if chunk.offset < stored { return }  // a duplicate of bytes already stored
        var isIntact = false
        if chunk.offset == stored {
            do {
                isIntact = try state.writer.append(bytes, at: chunk.offset, checksum: chunk.checksum)
                if isIntact { telemetry.uploadedBytes.increment(by: bytes.count) }
            } catch {
                failUpload(key, state, reason: "\(error)")
                return
            }
        }
        guard isIntact else {
            // Damaged, or sent after a chunk that never came: drop it and have the worker send again
            // from what is stored. Chunks already on their way after it are dropped without asking
            // again; a damaged resend asks again.
            if chunk.offset == stored || state.rewoundAt != stored {
                state.rewoundAt = stored
                state.rewinds += 1
                uploads[key] = state
                if state.rewinds > Self.maximumRewinds {
                    failUpload(key, state, reason: "\(Self.maximumRewinds) chunks in a row arrived damaged or out of order")
                    return
                }
                logger.warning(
                    "dropped an upload chunk (\(chunk.offset == stored ? "checksum mismatch" : "expected offset \(stored)")); asking for it again",
                    metadata: ["attempt": "\(chunk.attemptID)", "blob": "\(chunk.blob.prefix(12))", "offset": "\(chunk.offset)"])
                send(.uploadCredit(UploadCredit(blob: chunk.blob, offset: stored, credit: configuration.creditChunks, rewind: true)), to: peer)
            }
            return
        }
        state.rewoundAt = nil
        state.rewinds = 0
        uploads[key] = state
        do {
            if state.writer.offset >= state.size {
                uploads[key] = nil
                try state.writer.finish()
                send(.uploadStored(UploadStored(blob: chunk.blob, ok: true)), to: peer)
                for waiter in uploadWaiters.removeValue(forKey: chunk.blob) ?? [] {
                    send(.uploadStored(UploadStored(blob: chunk.blob, ok: true)), to: waiter)
                }
            } else {
                send(.uploadCredit(UploadCredit(blob: chunk.blob, offset: state.writer.offset, credit: configuration.creditChunks)), to: peer)
            }
        } catch {
            failUpload(key, state, reason: "\(error)")
        }
    }

    /// Ends an upload that cannot go on, telling its worker and whoever waits for the same blob.
    func failUpload(_ key: String, _ state: UploadState, reason: String) {
        let blob = state.writer.expected.hex
        uploads[key] = nil
        // The partial file goes too: a failed upload (a full disk, a link that damages everything)
        // must not leave its bytes behind; the worker starts again from 0.
        state.writer.discard()
        send(.uploadStored(UploadStored(blob: blob, ok: false, reason: reason)), to: state.peer)
        for waiter in uploadWaiters.removeValue(forKey: blob) ?? [] {
            send(.uploadStored(UploadStored(blob: blob, ok: false, reason: "a concurrent upload of the same blob failed: \(reason)")), to: waiter)
        }
    }
}
