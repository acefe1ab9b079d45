import Crypto
import Foundation
import Glibc

/// An on-disk content-addressed store of blobs, safe to share between threads and processes.
///
/// Layout under ``root``: `blobs/<first 2 hex>/<remaining 62 hex>` for finished blobs (mode 0400), `tmp/`
/// for files being written (`tmp/<hex>.partial` for resumable writers), and `quarantine/<hex>` for blobs
/// whose content was found not to match their name (see ``quarantine(_:)``). Directories are created
/// mode 0700 and files 0600 or 0400: outputs can hold secrets. A blob appears under its name
/// only by an atomic `rename` after its content was fsynced and checked against its digest, so a blob that
/// ``contains(_:)`` reports is complete. Keep `tmp/` on the same file system as `blobs/`.
///
/// Files handed out by ``linkOrCopy(_:to:)`` and ``Snapshot/materialize(_:from:at:)`` are hard links to
/// the stored blob where possible: writing to them in place would change the stored content (blobs are
/// read-only, but root ignores that). Run ``verify(_:)`` when in doubt.
public struct BlobStore: Sendable {
    /// The store's root directory.
    public let root: String
    /// Chunk checksums of blobs recently stored here, for sending them without hashing (shared by
    /// every copy of this value).
    public let chunkSums: ChunkSumsCache

    /// Opens the store at `root`, creating `root`, `blobs/` and `tmp/` as needed (mode 0700).
    public init(root: String, chunkSums: ChunkSumsCache = ChunkSumsCache()) throws(ArtifactError) {
        self.root = root
        self.chunkSums = chunkSums
        try FileIO.makeDirectories(root, mode: 0o700)
        try FileIO.makeDirectories(blobsDirectory, mode: 0o700)
        try FileIO.makeDirectories(tmpDirectory, mode: 0o700)
    }

    /// The directory holding every finished blob (in subdirectories named by the digest's first two hex digits).
    public var blobsDirectory: String { FileIO.join(root, "blobs") }
    /// The directory of files being written.
    public var tmpDirectory: String { FileIO.join(root, "tmp") }
    /// The directory where blobs that failed verification are kept for inspection (never read from).
    public var quarantineDirectory: String { FileIO.join(root, "quarantine") }

    /// Where the blob `digest` lives (or would live).
    public func path(of digest: Digest) -> String {
        let hex = digest.hex
        let split = hex.index(hex.startIndex, offsetBy: 2)
        return "\(blobsDirectory)/\(hex[..<split])/\(hex[split...])"
    }

    /// Whether the blob is present.
    public func contains(_ digest: Digest) -> Bool {
        guard let info = FileIO.stat(path(of: digest)) else { return false }
        return FileIO.isRegular(info)
    }

    /// The blob's size in bytes, or nil when it is absent.
    public func size(of digest: Digest) -> Int64? {
        guard let info = FileIO.stat(path(of: digest)), FileIO.isRegular(info) else { return nil }
        return Int64(info.st_size)
    }

    /// Stores `bytes` and returns their digest; a no-op when the blob is already present.
    ///
    /// Writes a temporary file, fsyncs it, re-reads and re-hashes it, then renames it into place.
    @discardableResult
    public func put(_ bytes: some Collection<UInt8>) throws(ArtifactError) -> Digest {
        let array = Array(bytes)
        let digest = SHA256Hasher.digest(of: array)
        if contains(digest) { return digest }
        let temporary = FileIO.join(tmpDirectory, FileIO.uniqueName(prefix: "put"))
        let fd = try FileIO.open(temporary, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o400, operation: "create")
        var renamed = false
        defer {
            FileIO.close(fd)
            if !renamed { FileIO.unlink(temporary) }
        }
        try FileIO.withBytes(array) { (buffer) throws(ArtifactError) in
            try FileIO.writeAll(fd, buffer, path: temporary)
        }
        try FileIO.fsync(fd, path: temporary)
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw ArtifactError.io("seek", path: temporary) }
        let (written, size) = try SHA256Hasher.digest(ofDescriptor: fd, path: temporary)
        guard written == digest, size == Int64(array.count) else {
            throw ArtifactError(
                code: .hashMismatch,
                message: "blob \(digest) read back differently after writing; the disk under '\(root)' may be failing",
                path: temporary)
        }
        try install(temporary, as: digest)
        renamed = true
        return digest
    }

    /// Stores `data` and returns its digest.
    @discardableResult
    public func put(_ data: Data) throws(ArtifactError) -> Digest {
        try put(Array(data))
    }

    /// Copies the file at `path` into the store, hashing while copying (1 MiB buffer, constant memory).
    ///
    /// - Returns: the content digest and size. When the blob was already present the copy is discarded.
    @discardableResult
    public func importFile(at path: String) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        try importFile(opened: FileIO.openForReading(path), path: path)
    }

    /// ``importFile(at:)`` of a regular file only, refusing a symlink in the last component unless
    /// `followingLinks` (see `FileIO.openRegularFile`).
    func importRegularFile(at path: String, followingLinks: Bool) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        try importFile(opened: FileIO.openRegularFile(path, followingLinks: followingLinks), path: path)
    }

    /// Copies the open descriptor `input` (closed on return) into the store.
    private func importFile(opened input: Int32, path: String) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        defer { FileIO.close(input) }
        return try importContent(of: input, path: path)
    }

    /// Copies what `input` holds from its current position into the store; the caller closes `input`.
    /// `path` names it in errors.
    func importContent(of input: Int32, path: String) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        let temporary = FileIO.join(tmpDirectory, FileIO.uniqueName(prefix: "import"))
        let output = try FileIO.open(
            temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o400, operation: "create")
        var renamed = false
        defer {
            FileIO.close(output)
            if !renamed { FileIO.unlink(temporary) }
        }
        var hasher = SHA256()
        var recorder = ChunkSumsRecorder()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SHA256Hasher.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileIO.read(input, into: buffer, path: path)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            recorder.feed(chunk, into: &hasher)
            try FileIO.writeAll(output, chunk, path: temporary)
        }
        let digest = Digest(bytes: hasher.finalize())
        chunkSums.record(recorder.sums(of: digest))
        if contains(digest) { return (digest, recorder.hashed) }
        try FileIO.fsync(output, path: temporary)
        try install(temporary, as: digest)
        renamed = true
        return (digest, recorder.hashed)
    }

    /// Reads up to `count` bytes of the blob starting at `offset` (fewer at the end of the blob).
    ///
    /// - Throws: ``ArtifactError`` `blobNotFound` when the blob is absent.
    public func read(_ digest: Digest, offset: Int64 = 0, count: Int) throws(ArtifactError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "read(\(digest), offset: \(offset), count: \(count)): negative")
        let fd = try openBlob(digest)
        defer { FileIO.close(fd) }
        // Read straight into the array's uninitialized storage: zero-filling 2 MiB per transfer chunk
        // first cost more than a tenth of the read.
        var failure: ArtifactError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(ArtifactError) {
                initialized = try FileIO.readFully(fd, into: UnsafeMutableRawBufferPointer(buffer), at: offset, path: path(of: digest))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Reads the whole blob into memory (use for manifests and other small blobs).
    public func readAll(_ digest: Digest) throws(ArtifactError) -> [UInt8] {
        guard let size = size(of: digest) else { throw notFound(digest) }
        return try read(digest, offset: 0, count: Int(size))
    }

    /// Reads and parses the manifest stored under an artifact digest.
    public func manifest(_ digest: Digest) throws(ArtifactError) -> TreeManifest {
        let manifest = try TreeManifest.parse(canonicalBytes: readAll(digest))
        guard manifest.digest == digest else {
            throw ArtifactError(
                code: .hashMismatch, message: "manifest blob \(digest) is corrupt; delete it and upload again",
                path: path(of: digest))
        }
        return manifest
    }

    /// Stores a manifest's canonical text and returns the artifact digest.
    @discardableResult
    public func put(_ manifest: TreeManifest) throws(ArtifactError) -> Digest {
        try put(manifest.canonicalBytes)
    }

    /// Re-hashes the stored blob; false when its content no longer matches its name.
    ///
    /// - Throws: ``ArtifactError`` `blobNotFound` when the blob is absent.
    public func verify(_ digest: Digest) throws(ArtifactError) -> Bool {
        let fd = try openBlob(digest)
        defer { FileIO.close(fd) }
        return try SHA256Hasher.digest(ofDescriptor: fd, path: path(of: digest)).digest == digest
    }

    /// When the blob was stored (its file's modification time), in milliseconds since 1970; nil when
    /// it is absent. Blobs are never rewritten in place, so this is when it arrived.
    public func storedAt(_ digest: Digest) -> Int64? {
        guard let info = FileIO.stat(path(of: digest)), FileIO.isRegular(info) else { return nil }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// Removes the blob (e.g. after ``verify(_:)`` found it corrupt); a no-op when absent.
    public func remove(_ digest: Digest) {
        FileIO.unlink(path(of: digest))
    }

    /// Moves a blob whose content does not match its name to `quarantine/<hex>` (replacing an older
    /// quarantined copy), so that it is never served again and an upload of the right bytes can take
    /// its place. Returns the quarantined file's path, or nil when the blob was already gone.
    ///
    /// The caller says why in its log; nothing is deleted, so the bad bytes stay for inspection.
    @discardableResult
    public func quarantine(_ digest: Digest) throws(ArtifactError) -> String? {
        try FileIO.makeDirectories(quarantineDirectory, mode: 0o700)
        let destination = FileIO.join(quarantineDirectory, digest.hex)
        if Glibc.rename(path(of: digest), destination) != 0 {
            let error = lastErrno()
            if error == ENOENT { return nil }
            throw ArtifactError.io("quarantine blob \(digest) to", path: destination, errno: error)
        }
        FileIO.fsyncDirectory(quarantineDirectory)
        return destination
    }

    /// Whether a blob of this name was quarantined (its stored content did not match it) and no
    /// good copy has replaced it since.
    public func isQuarantined(_ digest: Digest) -> Bool {
        !contains(digest) && FileIO.stat(FileIO.join(quarantineDirectory, digest.hex)) != nil
    }

    /// Removes every file under `tmp/` (partial uploads and abandoned temporary files); call it only
    /// while no writer of this store is open (when the process that owns the store starts).
    ///
    /// - Returns: how many files and bytes were removed.
    @discardableResult
    public func removeTemporaryFiles() -> (files: Int, bytes: Int64) {
        var files = 0
        var bytes: Int64 = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmpDirectory)) ?? [] {
            let path = FileIO.join(tmpDirectory, name)
            guard let info = FileIO.lstat(path), FileIO.isRegular(info) else { continue }
            if Glibc.unlink(path) == 0 {
                files += 1
                bytes += Int64(info.st_size)
            }
        }
        return (files, bytes)
    }

    /// Every blob stored, with its size (the names under `blobs/` that are digests), in no
    /// particular order; for whole-store checks such as `conduit store verify`.
    public func allBlobs() -> [(digest: Digest, size: Int64)] {
        var found: [(digest: Digest, size: Int64)] = []
        let fileManager = FileManager.default
        for prefix in (try? fileManager.contentsOfDirectory(atPath: blobsDirectory)) ?? [] where prefix.utf8.count == 2 {
            let directory = FileIO.join(blobsDirectory, prefix)
            for rest in (try? fileManager.contentsOfDirectory(atPath: directory)) ?? [] {
                guard let digest = Digest(hex: prefix + rest), let size = size(of: digest) else { continue }
                found.append((digest, size))
            }
        }
        return found
    }

    /// Opens a resumable writer for a blob of known digest and size (an upload or download in chunks).
    ///
    /// Data goes to `tmp/<hex>.partial`; ``BlobWriter/offset`` tells how much is already there from an
    /// earlier, interrupted writer, so the transfer can resume. Only one writer per blob at a time (an
    /// advisory `flock`, across processes).
    ///
    /// - Throws: ``ArtifactError`` `writerBusy` when another writer holds the blob.
    public func openWriter(for expected: Digest, size: Int64) throws(ArtifactError) -> BlobWriter {
        precondition(size >= 0, "openWriter(for: \(expected), size: \(size)): negative size")
        return try BlobWriter(store: self, expected: expected, size: size)
    }

    /// How many bytes an interrupted ``BlobWriter`` left for the blob under `tmp/` (0 when none): where a
    /// transfer of it can resume. A writer opened later for a different size may still start over.
    public func partialSize(of digest: Digest) -> Int64 {
        guard let info = FileIO.stat(FileIO.join(tmpDirectory, "\(digest.hex).partial")), FileIO.isRegular(info) else { return 0 }
        return Int64(info.st_size)
    }

    /// Makes `destination` (which must not exist) a hard link to the blob, or a copy (mode 0644) when a
    /// link is impossible (another file system, link limit reached, links not supported).
    ///
    /// - Throws: ``ArtifactError`` `blobNotFound`, `destinationExists`, or `io`.
    public func linkOrCopy(_ digest: Digest, to destination: String) throws(ArtifactError) {
        let source = path(of: digest)
        if Glibc.link(source, destination) == 0 { return }
        let error = lastErrno()
        switch error {
        case EEXIST:
            throw ArtifactError(
                code: .destinationExists, message: "'\(destination)' already exists; remove it first",
                path: destination)
        case ENOENT where !contains(digest):
            throw notFound(digest)
        case EXDEV, EMLINK, EPERM, ENOTSUP, EACCES:
            try copy(digest, to: destination, mode: 0o644)
        default:
            throw ArtifactError.io("link blob \(digest) to", path: destination, errno: error)
        }
    }

    /// Copies the blob to `destination` (which must not exist) with the given mode.
    public func copy(_ digest: Digest, to destination: String, mode: mode_t = 0o644) throws(ArtifactError) {
        guard contains(digest) else { throw notFound(digest) }
        if FileIO.lstat(destination) != nil {
            throw ArtifactError(
                code: .destinationExists, message: "'\(destination)' already exists; remove it first",
                path: destination)
        }
        try FileIO.copyFile(from: path(of: digest), to: destination, mode: mode)
    }

    // MARK: - Internals

    func openBlob(_ digest: Digest) throws(ArtifactError) -> Int32 {
        let fd = Glibc.open(path(of: digest), O_RDONLY | O_CLOEXEC)
        if fd >= 0 { return fd }
        let error = lastErrno()
        if error == ENOENT { throw notFound(digest) }
        throw ArtifactError.io("open blob", path: path(of: digest), errno: error)
    }

    func notFound(_ digest: Digest) -> ArtifactError {
        ArtifactError(
            code: .blobNotFound, message: "blob \(digest) is not in the store at '\(root)'; upload or fetch it first",
            path: path(of: digest))
    }

    /// Renames a complete, fsynced temporary file into its blob path (fine if another writer won the race).
    func install(_ temporary: String, as digest: Digest) throws(ArtifactError) {
        let final = path(of: digest)
        let directory = FileIO.parentPath(final)
        if Glibc.mkdir(directory, 0o700) != 0 && lastErrno() != EEXIST {
            throw ArtifactError.io("create directory", path: directory)
        }
        _ = chmod(temporary, 0o400)
        try FileIO.rename(temporary, to: final)
        FileIO.fsyncDirectory(directory)
    }
}
