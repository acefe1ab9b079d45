import Glibc

/// An error raised by the `Artifacts` module: a stable ``code`` for programs and a ``message`` for people.
///
/// The message says what went wrong, where, and what to do about it. ``path`` and ``errno`` carry the
/// context when a file-system call failed.
public struct ArtifactError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, open set of error kinds (compare with the static constants).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, e.g. `"hash_mismatch"`.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's stable name.
        public var description: String { rawValue }

        /// A digest string is not 64 lowercase hexadecimal characters.
        public static let invalidDigest = Code(rawValue: "invalid_digest")
        /// A tree manifest (canonical text or structured form) is malformed or not canonical.
        public static let invalidManifest = Code(rawValue: "invalid_manifest")
        /// A path is absolute, contains `.`/`..`/empty components, or would leave its root.
        public static let unsafePath = Code(rawValue: "unsafe_path")
        /// A blob that was asked for is not in the store.
        public static let blobNotFound = Code(rawValue: "blob_not_found")
        /// Some blobs a manifest needs are not in the store (or have the wrong size).
        public static let missingBlobs = Code(rawValue: "missing_blobs")
        /// Content does not hash to the digest it was announced under.
        public static let hashMismatch = Code(rawValue: "hash_mismatch")
        /// Content does not have the size it was announced with.
        public static let sizeMismatch = Code(rawValue: "size_mismatch")
        /// A chunk was offered at an offset other than the writer's current offset.
        public static let wrongOffset = Code(rawValue: "wrong_offset")
        /// Another writer (in this or another process) is already filling the same blob.
        public static let writerBusy = Code(rawValue: "writer_busy")
        /// The writer was already finished or closed.
        public static let writerClosed = Code(rawValue: "writer_closed")
        /// A symbolic link points outside the snapshot root, at a directory, or nowhere.
        public static let symlinkRejected = Code(rawValue: "symlink_rejected")
        /// A file is neither a regular file, a directory nor a symbolic link (socket, FIFO, device).
        public static let unsupportedFileType = Code(rawValue: "unsupported_file_type")
        /// The destination of a materialization or link already exists.
        public static let destinationExists = Code(rawValue: "destination_exists")
        /// An ignore file (`.amlignore` / `.gitignore`) could not be read.
        public static let invalidIgnoreFile = Code(rawValue: "invalid_ignore_file")
        /// A file-system call failed; see ``ArtifactError/errno`` and ``ArtifactError/path``.
        public static let io = Code(rawValue: "io")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence for people: what failed, where, and what to do.
    public var message: String
    /// The file or directory involved, when there is one.
    public var path: String?
    /// The C error number, when a system call failed.
    public var errno: Int32?

    /// Creates an error.
    public init(code: Code, message: String, path: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
    }

    /// `"[code] message (errno N: text)"`.
    public var description: String {
        var text = "[\(code.rawValue)] \(message)"
        if let errno {
            text += " (errno \(errno): \(String(cString: strerror(errno))))"
        }
        return text
    }

    /// An I/O error for a failed system call, reading the calling thread's `errno`.
    static func io(_ operation: String, path: String, errno number: Int32 = lastErrno()) -> ArtifactError {
        let hint: String
        switch number {
        case ENOENT: hint = "it does not exist; check the path"
        case EACCES, EPERM: hint = "permission denied; check ownership and mode"
        case ENOSPC: hint = "the disk is full; free space or move the store"
        case EROFS: hint = "the file system is read-only"
        case EISDIR: hint = "it is a directory"
        case ENOTDIR: hint = "a parent is not a directory"
        default: hint = "see the system error below"
        }
        return ArtifactError(
            code: .io, message: "cannot \(operation) '\(path)': \(hint)", path: path, errno: number)
    }
}
