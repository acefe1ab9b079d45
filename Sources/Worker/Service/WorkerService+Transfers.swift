import Artifacts
import Foundation
import Logging
import Protocol

/// A blob being fetched from the coordinator, and who waits for it.
///
/// The window slides: chunks are asked for in batches of half the credit, the next batch as soon as
/// no more than half the credit is outstanding, so the coordinator always has more to send.
struct FetchState {
    var writer: BlobWriter?
    /// Chunks asked for and not yet received (in the current request stream).
    var outstanding: Int
    /// Where the chunks asked for so far end, once the chunk size is known (from the first chunk).
    var requestedEnd: Int64?
    /// Chunks asked for in the current stream since `streamStart`.
    var requestedChunks: Int
    /// The offset the current request stream started at.
    var streamStart: Int64
    /// After a dropped chunk: chunks are ignored until the one at the writer's offset comes.
    var isResyncing = false
    /// Consecutive dropped chunks; too many fail the fetch.
    var drops = 0
    var waiters: [CheckedContinuation<Void, any Error>]
    /// When the fetch began (monotonic ms), for the log line at the end.
    var startedAt: Int64
}

/// A blob being uploaded to the coordinator, and who waits for it.
struct UploadState {
    let digest: Digest
    let attemptID: String
    let size: Int64
    var cursor: Int64 = 0
    var allowedEnd: Int64 = 0
    var waiters: [CheckedContinuation<Void, any Error>]
    /// When the coordinator last answered about it (monotonic ms); see `retryStalledUploads`.
    var lastProgress: Int64 = 0
    /// When the upload began (monotonic ms), for the log line at the end.
    var startedAt: Int64 = 0
    /// Where each chunk's checksum comes from.
    var checksums: ChunkChecksummer
}

extension WorkerService {
    // MARK: Fetching inputs

    /// Makes sure `digest` is in the local cache, fetching it from the coordinator if needed.
    /// Pin it first (see `pinCache`) when it must outlive the next eviction.
    func ensureBlob(_ digest: Digest) async throws {
        if cache.contains(digest) {
            touchCache(.blob(digest))
            return
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if fetches[digest.hex] != nil {
                fetches[digest.hex]!.waiters.append(continuation)
                return
            }
            // Resume after what an interrupted fetch of the same blob left in the cache's partial file.
            let start = cache.partialSize(of: digest)
            let credit = configuration.fetchCredit
            fetches[digest.hex] = FetchState(
                writer: nil, outstanding: credit, requestedChunks: credit, streamStart: start, waiters: [continuation],
                startedAt: monotonicNow())
            send(.fetchRequest(FetchRequest(blob: digest.hex, offset: start, credit: credit)))
        }
    }

    /// Consecutive dropped chunks after which a fetch fails: the link corrupts everything it carries.
    static let maximumDroppedChunks = 16

    func receiveFetchChunk(_ chunk: FetchChunk, bytes: [UInt8]) {
        guard var state = fetches[chunk.blob], let digest = Digest(hex: chunk.blob) else { return }
        do {
            if state.writer == nil {
                // Room for it before its bytes land (the blob itself is pinned by its attempt).
                makeRoomInCache(for: chunk.size)
                state.writer = try cache.openWriter(for: digest, size: chunk.size)
            }
            let writer = state.writer!
            let stored = writer.offset
            if state.isResyncing && chunk.offset != stored {
                return  // sent before the request that resynchronised; not counted against the new stream
            }
            state.outstanding -= 1
            let isIntact = try chunk.offset == stored && writer.append(bytes, at: chunk.offset, checksum: chunk.checksum)
            guard isIntact else {
                // Damaged, or not where the copy ends (a chunk before it was dropped, or a resumed copy
                // is longer than the coordinator was asked from): ask again from the end of the copy.
                state.drops += 1
                if state.drops > Self.maximumDroppedChunks {
                    writer.close()
                    failFetch(chunk.blob, reason: "\(Self.maximumDroppedChunks) chunks in a row arrived damaged or out of order")
                    return
                }
                if chunk.offset == stored {
                    logger.warning("dropped a damaged chunk; asking for it again", metadata: ["blob": "\(chunk.blob.prefix(12))", "offset": "\(chunk.offset)"])
                }
                state.isResyncing = true
                state.streamStart = stored
                state.requestedChunks = configuration.fetchCredit
                state.outstanding = configuration.fetchCredit
                fetches[chunk.blob] = state
                send(.fetchRequest(FetchRequest(blob: chunk.blob, offset: stored, credit: configuration.fetchCredit)))
                return
            }
            state.isResyncing = false
            state.drops = 0
            if writer.offset >= chunk.size {
                try writer.finish()
                fetches[chunk.blob] = nil
                recordInCache(.blob(digest), size: chunk.size)
                coordinatorHas.insert(chunk.blob)
                logTransfer("fetched blob", blob: chunk.blob, bytes: chunk.size, since: state.startedAt)
                for waiter in state.waiters { waiter.resume() }
                return
            }
            // The chunk size is the size of any chunk but the last.
            state.requestedEnd = min(chunk.size, state.streamStart + Int64(state.requestedChunks) * Int64(bytes.count))
            let half = max(1, configuration.fetchCredit / 2)
            if state.outstanding <= half, let end = state.requestedEnd, end < chunk.size {
                state.outstanding += half
                state.requestedChunks += half
                send(.fetchRequest(FetchRequest(blob: chunk.blob, offset: end, credit: half)))
            } else if state.outstanding <= 0 {
                // Everything asked for came yet the copy is short (the coordinator sent less): ask again.
                state.streamStart = writer.offset
                state.requestedChunks = configuration.fetchCredit
                state.outstanding = configuration.fetchCredit
                send(.fetchRequest(FetchRequest(blob: chunk.blob, offset: writer.offset, credit: configuration.fetchCredit)))
            }
            fetches[chunk.blob] = state
        } catch {
            state.writer?.close()
            failFetch(chunk.blob, reason: "\(error)")
        }
    }

    /// Logs a finished transfer of a large blob with its duration and rate (debug for small ones).
    func logTransfer(_ what: String, blob: String, bytes: Int64, since start: Int64) {
        let seconds = Double(max(0, monotonicNow() - start)) / 1000
        let rate = seconds > 0 ? Double(bytes) / seconds / 1e6 : 0
        let metadata: Logger.Metadata = [
            "blob": "\(blob.prefix(12))", "bytes": "\(bytes)", "seconds": "\(String(format: "%.3f", seconds))",
            "MBps": "\(String(format: "%.0f", rate))",
        ]
        logger.log(level: bytes >= 1 << 20 ? .info : .debug, "\(what)", metadata: metadata)
    }

    /// Fails every fetch and upload in flight: their messages will not be answered (the worker
    /// registers again with a restarted coordinator, or is shutting down), so the attempts waiting
    /// on them end as worker errors and free their slots instead of hanging. With
    /// `keepingUploads`, uploads stay pending for `restartUploads()` after registering again.
    func failTransfers(_ code: WorkerError.Code, reason: String, keepingUploads: Bool = false) {
        let pendingFetches = fetches
        let pendingUploads = keepingUploads ? [:] : uploads
        fetches.removeAll()
        if !keepingUploads { uploads.removeAll() }
        for (blob, state) in pendingFetches {
            state.writer?.close()
            let error = WorkerError(code, "fetching blob \(blob.prefix(12)) was interrupted: \(reason)")
            for waiter in state.waiters { waiter.resume(throwing: error) }
        }
        for (blob, state) in pendingUploads {
            let error = WorkerError(code, "uploading blob \(blob.prefix(12)) was interrupted: \(reason)")
            for waiter in state.waiters { waiter.resume(throwing: error) }
        }
    }

    func failFetch(_ blob: String, reason: String) {
        guard let state = fetches.removeValue(forKey: blob) else { return }
        // What was received goes too (a writer closed to keep its partial file for a resume is not
        // touched): the coordinator may have refused the blob because its copy failed verification,
        // and the next fetch must not resume from bytes it sent before it found out.
        state.writer?.discard()
        let error = WorkerError(.transfer, "fetching blob \(blob.prefix(12)) failed: \(reason)")
        for waiter in state.waiters { waiter.resume(throwing: error) }
    }

    /// Fetches an artifact's manifest and every blob it lists; returns the manifest. All of them
    /// stay pinned in the cache until the attempt ends.
    func ensureArtifact(_ digest: Digest, for attemptID: String) async throws -> TreeManifest {
        pinCache(.blob(digest), owner: .inputs(attemptID))
        try await ensureBlob(digest)
        let manifest = try cache.manifest(digest)
        for blob in Set(manifest.entries.compactMap(\.digest)).sorted() {
            pinCache(.blob(blob), owner: .inputs(attemptID))
            touchCache(.blob(blob))
        }
        for blob in Snapshot.missingBlobs(of: manifest, in: cache) {
            try await ensureBlob(blob)
        }
        return manifest
    }

    /// The path of a read-only checkout of an input artifact in the local cache: made once per
    /// artifact (files are hard links to the cached blobs) and shared by every attempt that reads
    /// it, so an input costs no file system work after its first use. Inputs are read-only, as
    /// with Azure ML's `ro_mount`: a step writes only to its outputs. The checkout is pinned in
    /// the cache until the attempt ends, and holds its blobs while it exists (see `CacheIndex`).
    func checkout(_ digest: Digest, for attemptID: String) async throws -> String {
        if let path = checkouts[digest] {
            pinCache(.checkout(digest), owner: .inputs(attemptID))
            touchCache(.checkout(digest))
            return path
        }
        let manifest = try await ensureArtifact(digest, for: attemptID)
        let root = configuration.workDirectory + "/cache/checkouts/" + digest.hex
        let path = manifest.kind == .file ? root + "/" + (manifest.entries.first?.path ?? "") : root
        if access(root, F_OK) != 0 {
            // Built aside and renamed into place, so a checkout that exists is complete.
            checkoutCounter += 1
            let partial = configuration.workDirectory + "/cache/checkouts/.partial-\(getpid())-\(checkoutCounter)"
            do {
                if manifest.kind == .file {
                    try directories.makeDirectory(partial)
                    try Snapshot.materialize(manifest, from: cache, at: partial + "/" + (manifest.entries.first?.path ?? ""))
                } else {
                    try Snapshot.materialize(manifest, from: cache, at: partial)
                    for entry in manifest.entries where entry.kind == .directory {
                        chmod(partial + "/" + entry.path, 0o555)
                    }
                }
                chmod(partial, 0o555)
            } catch {
                directories.recycle(partial)
                throw error
            }
            if rename(partial, root) != 0 {
                // Another attempt made the same checkout first.
                directories.recycle(partial)
                guard access(root, F_OK) == 0 else {
                    throw WorkerError(.workspace, "cannot create the checkout \(root): \(String(cString: strerror(errno)))")
                }
            }
        }
        checkouts[digest] = path
        pinCache(.checkout(digest), owner: .inputs(attemptID))
        recordInCache(.checkout(digest), size: Self.checkoutOwnSize(manifest), holding: Self.checkoutHolds(manifest))
        return path
    }

    // MARK: Uploading outputs

    /// Begins every pending upload again from the start: the coordinator restarted on the same
    /// data directory and this worker registered again, re-attaching the attempts whose outputs
    /// these are, so their results are not thrown away and the steps are not run again.
    func restartUploads() {
        for blob in uploads.keys.sorted() {
            uploads[blob]!.cursor = 0
            uploads[blob]!.allowedEnd = 0
            let state = uploads[blob]!
            send(.uploadBegin(UploadBegin(attemptID: state.attemptID, blob: blob, size: state.size)))
        }
    }

    /// Begins again, from where the coordinator's copy ends, every upload the coordinator has not
    /// answered for `stallMilliseconds`: its messages can be lost with a connection that dropped
    /// and came back (ZeroMQ reconnects under the same identity), and nothing else would ever
    /// resume it. The coordinator answers a repeated begin with credit from its own offset.
    func retryStalledUploads(now: Int64, stallMilliseconds: Int64 = 5000) {
        for blob in uploads.keys.sorted() where now - uploads[blob]!.lastProgress >= stallMilliseconds {
            uploads[blob]!.cursor = 0
            uploads[blob]!.allowedEnd = 0
            uploads[blob]!.lastProgress = now
            let state = uploads[blob]!
            logger.info("upload made no progress for \(stallMilliseconds / 1000) s; beginning it again", metadata: ["attempt": "\(state.attemptID)"])
            send(.uploadBegin(UploadBegin(attemptID: state.attemptID, blob: blob, size: state.size)))
        }
    }

    /// Uploads a blob from the local cache; returns once the coordinator has stored and verified it.
    func upload(_ digest: Digest, attemptID: String) async throws {
        if coordinatorHas.contains(digest.hex) { return }
        let size = cache.size(of: digest) ?? 0
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if uploads[digest.hex] != nil {
                uploads[digest.hex]!.waiters.append(continuation)
                return
            }
            let now = monotonicNow()
            uploads[digest.hex] = UploadState(
                digest: digest, attemptID: attemptID, size: size, waiters: [continuation], lastProgress: now, startedAt: now,
                checksums: ChunkChecksummer(digest, size: size, in: cache))
            send(.uploadBegin(UploadBegin(attemptID: attemptID, blob: digest.hex, size: size)))
        }
    }

    func receiveCredit(_ credit: UploadCredit) {
        guard var state = uploads[credit.blob] else { return }
        state.lastProgress = monotonicNow()
        let window = credit.offset + Int64(credit.credit) * Int64(configuration.chunkBytes)
        if credit.rewind {
            // The coordinator dropped a chunk: everything from its acknowledged offset goes again.
            state.cursor = credit.offset
            state.allowedEnd = window
        } else {
            state.cursor = max(state.cursor, credit.offset)
            state.allowedEnd = max(state.allowedEnd, window)
        }
        let end = min(state.allowedEnd, state.size)
        while state.cursor < end {
            let count = Int(min(Int64(configuration.chunkBytes), end - state.cursor))
            do {
                let bytes = try cache.read(state.digest, offset: state.cursor, count: count)
                let checksum = try state.checksums.checksum(of: bytes, at: state.cursor, in: cache)
                let chunk = UploadChunk(attemptID: state.attemptID, blob: credit.blob, offset: state.cursor, checksum: checksum)
                send(.uploadChunk(chunk), bulk: bytes)
                state.cursor += Int64(bytes.count)
                if bytes.isEmpty { break }
            } catch {
                uploads[credit.blob] = nil
                let failure = WorkerError(.transfer, "reading blob \(credit.blob.prefix(12)) for upload failed: \(error)")
                for waiter in state.waiters { waiter.resume(throwing: failure) }
                return
            }
        }
        uploads[credit.blob] = state
    }

    func finishUpload(_ stored: UploadStored) {
        guard let state = uploads.removeValue(forKey: stored.blob) else { return }
        if stored.ok {
            coordinatorHas.insert(stored.blob)
            logTransfer("uploaded blob", blob: stored.blob, bytes: state.size, since: state.startedAt)
            for waiter in state.waiters { waiter.resume() }
        } else {
            let error = WorkerError(.transfer, "the coordinator did not store blob \(stored.blob.prefix(12)): \(stored.reason ?? "no reason given")")
            for waiter in state.waiters { waiter.resume(throwing: error) }
        }
    }
}
