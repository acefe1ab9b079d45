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
            _ = FileManager.default.createFile(atPath: path, contents: nil)
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
    }

    /// Sends up to `credit` chunks of a blob from `offset`.
    func serveFetch(_ request: FetchRequest, to peer: PeerID) {
        guard let digest = Digest(hex: request.blob), let size = blobs.size(of: digest) else {
            send(.fetchFailed(FetchFailed(blob: request.blob, reason: "the coordinator has no blob \(request.blob)")), to: peer)
            return
        }
        var offset = max(0, request.offset)
        let credit = min(max(1, request.credit), 64)
        if size == 0 {
            send(.fetchChunk(FetchChunk(blob: request.blob, offset: 0, size: 0)), to: peer, bulk: [])
            return
        }
        for _ in 0..<credit where offset < size {
            let count = Int(min(Int64(configuration.chunkBytes), size - offset))
            do {
                let bytes = try blobs.read(digest, offset: offset, count: count)
                send(.fetchChunk(FetchChunk(blob: request.blob, offset: offset, size: size)), to: peer, bulk: bytes)
                offset += Int64(bytes.count)
                if bytes.isEmpty { break }
            } catch {
                send(.fetchFailed(FetchFailed(blob: request.blob, reason: "reading blob failed: \(error)")), to: peer)
                return
            }
        }
    }

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
        if dispatchPause != nil {
            // The disk is full: the upload waits (the worker keeps the bytes) until space returns.
            if !deferredUploads.contains(where: { $0.0.blob == begin.blob && $0.peer == peer }) {
                deferredUploads.append((begin, workerID: workerID, peer: peer))
            }
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

    func receiveUpload(_ chunk: UploadChunk, bytes: [UInt8], peer: PeerID) {
        let key = uploadKey(chunk.blob, peer)
        guard let state = uploads[key] else { return }
        do {
            try state.writer.append(bytes, at: chunk.offset)
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
            uploads[key] = nil
            state.writer.close()
            send(.uploadStored(UploadStored(blob: chunk.blob, ok: false, reason: "\(error)")), to: peer)
            for waiter in uploadWaiters.removeValue(forKey: chunk.blob) ?? [] {
                send(.uploadStored(UploadStored(blob: chunk.blob, ok: false, reason: "a concurrent upload of the same blob failed: \(error)")), to: waiter)
            }
        }
    }
}
