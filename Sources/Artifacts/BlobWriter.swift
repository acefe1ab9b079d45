import Crypto
import Dispatch
import Glibc
import Synchronization

/// A resumable, chunked writer for one blob of known digest and size; get one from
/// ``BlobStore/openWriter(for:size:)``.
///
/// Chunks must arrive in order: ``append(_:at:)`` takes the offset the sender believes it is at and rejects
/// any other, so a duplicated or lost chunk is detected. Bytes land in `tmp/<hex>.partial`, which survives a
/// crash or ``close()``: a later writer for the same blob starts at ``offset``. ``finish()`` checks size and
/// SHA-256 and only then renames the file into the store; on a hash mismatch the partial file is deleted
/// (start over) and nothing enters the store.
///
/// The SHA-256 is computed as bytes are appended (a resumed writer first hashes what the partial file
/// already holds), so ``finish()`` reads nothing back and the hashing overlaps the transfer; a large
/// chunk is written on the writer's own queue while the appending thread hashes it. Memory use
/// does not depend on the blob's size: one 1 MiB buffer while hashing a resumed prefix, nothing after.
/// Nothing is fsynced per chunk: every ``syncIntervalBytes`` the writer flushes what it has
/// (`fdatasync`), and ``finish()`` fsyncs once at the end. No single call then waits for more than
/// ``syncIntervalBytes`` to reach the disk, so a slow disk delays whoever appends (the coordinator's
/// actor, a worker's) by a bounded amount per call, never by the whole blob at once.
///
/// Thread-safe: every operation takes the writer's mutex.
public final class BlobWriter: Sendable {
    /// The digest the content must have.
    public let expected: Digest
    /// The size the content must have, in bytes.
    public let size: Int64
    /// The temporary file being filled.
    public let partialPath: String
    private let store: BlobStore
    /// Where large chunks are written while the appending thread hashes them. A queue of its own
    /// (served by libdispatch's overcommitting threads), so waiting for it never waits on the
    /// cooperative thread pool the appender may be running on.
    private let writeQueue = DispatchQueue(label: "conduit.blob-writer")

    /// How many appended bytes the writer lets accumulate before it flushes them (64 MiB).
    public static let syncIntervalBytes: Int64 = 64 << 20

    private struct State {
        var fd: Int32
        var offset: Int64
        var isClosed: Bool
        /// SHA-256 of the bytes `0..<offset`.
        var hasher = SHA256()
        /// The chunk checksums through `offset` (beyond it only during an append), remembered by the
        /// store once the blob is verified. Updated in place: copying it per chunk would cost time in
        /// proportion to the blob already written.
        var recorder = ChunkSumsRecorder()
        /// The offset up to which the partial file is flushed.
        var synced: Int64 = 0
    }
    private let state: Mutex<State>

    init(store: BlobStore, expected: Digest, size: Int64) throws(ArtifactError) {
        self.store = store
        self.expected = expected
        self.size = size
        self.partialPath = FileIO.join(store.tmpDirectory, "\(expected.hex).partial")
        if store.size(of: expected) == size {
            // Already stored: nothing to transfer; finish() is a no-op.
            state = Mutex(State(fd: -1, offset: size, isClosed: false))
            return
        }
        let fd = try FileIO.open(partialPath, flags: O_RDWR | O_CREAT, mode: 0o600, operation: "open partial blob")
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = lastErrno()
            FileIO.close(fd)
            if error == EWOULDBLOCK {
                throw ArtifactError(
                    code: .writerBusy,
                    message: "blob \(expected) is already being written by another writer; retry later",
                    path: partialPath)
            }
            throw ArtifactError.io("lock", path: partialPath, errno: error)
        }
        let info: stat
        do {
            info = try FileIO.fstat(fd, path: partialPath)
        } catch {
            FileIO.close(fd)
            throw error
        }
        var existing = Int64(info.st_size)
        if existing > size {
            // Left over from a writer that was told a different size: it cannot be a prefix.
            _ = ftruncate(fd, 0)
            existing = 0
        }
        var hasher = SHA256()
        var recorder = ChunkSumsRecorder()
        do {
            existing = try Self.hashPrefix(fd, count: existing, into: &hasher, recording: &recorder, path: partialPath)
        } catch {
            FileIO.close(fd)
            throw error
        }
        state = Mutex(State(fd: fd, offset: existing, isClosed: false, hasher: hasher, recorder: recorder, synced: existing))
    }

    /// Feeds the first `count` bytes of `fd` to `hasher`; returns how many there were (fewer when the
    /// file is shorter, and then it is cut there).
    private static func hashPrefix(
        _ fd: Int32, count: Int64, into hasher: inout SHA256, recording recorder: inout ChunkSumsRecorder, path: String
    ) throws(ArtifactError) -> Int64 {
        guard count > 0 else { return 0 }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SHA256Hasher.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < count {
            let want = Int(min(Int64(buffer.count), count - done))
            let read = try FileIO.readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: done, path: path)
            if read == 0 { break }
            recorder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<read]), into: &hasher)
            done += Int64(read)
        }
        if done < count { _ = ftruncate(fd, off_t(done)) }
        return done
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 { FileIO.close(state.fd) }
        }
    }

    /// How many bytes are already written: the offset the next ``append(_:at:)`` must use.
    public var offset: Int64 { state.withLock { $0.offset } }

    /// Whether all ``size`` bytes are there (``finish()`` may still reject them).
    public var isComplete: Bool { offset == size }

    /// Appends `chunk`, which must start at ``offset``.
    ///
    /// - Throws: ``ArtifactError`` `wrongOffset` when `offset` is not the current offset (the caller should
    ///   resend from ``offset``), `sizeMismatch` when the chunk would run past ``size``, `writerClosed` after
    ///   ``finish()`` or ``close()``.
    public func append(_ chunk: some Collection<UInt8>, at offset: Int64) throws(ArtifactError) {
        let bytes = Array(chunk)  // no copy when `chunk` is an array
        try state.withLock { (state) throws(ArtifactError) in
            try check(bytes, at: offset, in: state)
            guard !bytes.isEmpty, state.fd >= 0 else { return }
            let hasher = try writeAndHash(bytes, state: &state)
            try commit(bytes.count, hashed: hasher, into: &state)
        }
    }

    /// Appends `chunk`, which must start at ``offset``, if it matches `checksum` (a ``PrefixChecksum``:
    /// the SHA-256 of the blob through the end of the chunk); returns false, leaving the partial file as
    /// it was, if not.
    ///
    /// Costs one SHA-256 block more than ``append(_:at:)``: the writer's running digest is the check.
    /// - Throws: as ``append(_:at:)``.
    public func append(_ chunk: some Collection<UInt8>, at offset: Int64, checksum: UInt64) throws(ArtifactError) -> Bool {
        let bytes = Array(chunk)
        return try state.withLock { (state) throws(ArtifactError) -> Bool in
            try check(bytes, at: offset, in: state)
            guard state.fd >= 0 else { return true }
            guard !bytes.isEmpty else { return PrefixChecksum.value(of: state.hasher) == checksum }
            let hasher = try writeAndHash(bytes, state: &state)
            guard PrefixChecksum.value(of: hasher) == checksum else {
                // Written while it was hashed: cut it off again, so a later writer resumes before it.
                state.recorder.rewind(to: state.offset)
                guard ftruncate(state.fd, off_t(state.offset)) == 0 else {
                    throw ArtifactError.io("truncate", path: partialPath)
                }
                return false
            }
            try commit(bytes.count, hashed: hasher, into: &state)
            return true
        }
    }

    /// Throws unless `bytes` may be appended at `offset`.
    private func check(_ bytes: [UInt8], at offset: Int64, in state: State) throws(ArtifactError) {
        guard !state.isClosed else { throw closedError() }
        guard offset == state.offset else {
            throw ArtifactError(
                code: .wrongOffset,
                message: "chunk for blob \(expected) starts at \(offset) but the writer is at \(state.offset); "
                    + "resend from \(state.offset)",
                path: partialPath)
        }
        guard Int64(bytes.count) <= size - state.offset else {
            throw ArtifactError(
                code: .sizeMismatch,
                message: "chunk of \(bytes.count) bytes at \(offset) runs past the announced size \(size) "
                    + "of blob \(expected)",
                path: partialPath)
        }
    }

    /// Chunks at least this large are written on the writer's queue while the appending thread hashes
    /// them (256 KiB): the two take about as long as each other, so a chunk costs the appender the
    /// longer of the two instead of both.
    static let parallelWriteBytes = 256 << 10

    /// Writes `bytes` at the end of the partial file and hashes them: returns the running digest through
    /// them and records their chunk checksums in `state.recorder`. Neither the digest nor ``offset``
    /// moves until ``commit(_:hashed:into:)``; `state.recorder.rewind(to:)` takes the checksums back.
    private func writeAndHash(_ bytes: [UInt8], state: inout State) throws(ArtifactError) -> SHA256 {
        var hasher = state.hasher
        let fd = state.fd
        let offset = state.offset
        let path = partialPath
        let write = { @Sendable () throws(ArtifactError) in
            try FileIO.withBytes(bytes) { (buffer) throws(ArtifactError) in try FileIO.writeAll(fd, buffer, at: offset, path: path) }
        }
        guard bytes.count >= Self.parallelWriteBytes else {
            try write()
            bytes.withUnsafeBytes { state.recorder.feed($0, into: &hasher) }
            return hasher
        }
        let failure = WriteFailure()
        let done = DispatchGroup()
        writeQueue.async(group: done) {
            do throws(ArtifactError) { try write() } catch { failure.error = error }
        }
        bytes.withUnsafeBytes { state.recorder.feed($0, into: &hasher) }
        done.wait()
        if let error = failure.error {
            state.recorder.rewind(to: offset)
            throw error
        }
        return hasher
    }

    /// Makes `count` written bytes part of the blob; `hasher` is the running digest through them.
    private func commit(_ count: Int, hashed hasher: SHA256, into state: inout State) throws(ArtifactError) {
        state.hasher = hasher
        state.offset += Int64(count)
        if state.offset - state.synced >= Self.syncIntervalBytes {
            guard fdatasync(state.fd) == 0 else { throw ArtifactError.io("fdatasync", path: partialPath) }
            state.synced = state.offset
        }
    }

    /// Fsyncs, checks size and SHA-256, and renames the blob into the store; a no-op when the blob is
    /// already stored. The writer is closed afterwards.
    ///
    /// - Throws: ``ArtifactError`` `sizeMismatch` when bytes are missing (the partial file is kept: append
    ///   the rest), `hashMismatch` when the content is wrong (the partial file is deleted).
    public func finish() throws(ArtifactError) {
        try state.withLock { (state) throws(ArtifactError) in
            guard !state.isClosed else { throw closedError() }
            if store.contains(expected) {
                if state.fd >= 0 {
                    FileIO.close(state.fd)
                    FileIO.unlink(partialPath)
                    state.fd = -1
                }
                state.isClosed = true
                return
            }
            guard state.offset == size else {
                throw ArtifactError(
                    code: .sizeMismatch,
                    message: "blob \(expected) has \(state.offset) of \(size) bytes; append the rest before finishing",
                    path: partialPath)
            }
            let fd = state.fd
            try FileIO.fsync(fd, path: partialPath)
            let actual = Digest(bytes: state.hasher.finalize())
            guard actual == expected else {
                FileIO.unlink(partialPath)
                FileIO.close(fd)
                state.fd = -1
                state.isClosed = true
                throw ArtifactError(
                    code: .hashMismatch,
                    message: "received content hashes to \(actual), not \(expected); it was discarded, "
                        + "transfer the blob again from offset 0",
                    path: partialPath)
            }
            try store.install(partialPath, as: expected)
            store.chunkSums.record(state.recorder.sums(of: expected))
            FileIO.close(fd)
            state.fd = -1
            state.isClosed = true
        }
    }

    /// Closes the writer, keeping the partial file so that a later writer can resume.
    public func close() {
        state.withLock { state in
            if state.fd >= 0 { FileIO.close(state.fd) }
            state.fd = -1
            state.isClosed = true
        }
    }

    /// Closes the writer and deletes the partial file.
    public func discard() {
        state.withLock { state in
            if state.fd >= 0 {
                FileIO.unlink(partialPath)
                FileIO.close(state.fd)
            }
            state.fd = -1
            state.isClosed = true
        }
    }

    private func closedError() -> ArtifactError {
        ArtifactError(
            code: .writerClosed, message: "the writer for blob \(expected) is closed; open a new one",
            path: partialPath)
    }
}

/// The error of a write done on a writer's queue, read by the appender after it waited for the write.
private final class WriteFailure: @unchecked Sendable {
    var error: ArtifactError?
}
