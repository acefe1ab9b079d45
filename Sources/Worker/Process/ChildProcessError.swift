import Glibc

/// A failure to start a child process.
public struct ChildProcessError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, open set of error kinds.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's stable name.
        public var description: String { rawValue }

        /// The working directory does not exist or is not a directory.
        public static let workingDirectoryNotFound = Code(rawValue: "working_directory_not_found")
        /// No `bash` was found at `/bin/bash` or `/usr/bin/bash`.
        public static let shellNotFound = Code(rawValue: "shell_not_found")
        /// The C library lacks `posix_spawn_file_actions_addchdir_np` (glibc older than 2.29).
        public static let unsupportedPlatform = Code(rawValue: "unsupported_platform")
        /// Creating pipes or the reader thread failed (often: out of file descriptors or threads).
        public static let resources = Code(rawValue: "resources")
        /// `posix_spawn` itself failed.
        public static let spawnFailed = Code(rawValue: "spawn_failed")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence for people: what failed and what to do.
    public var message: String
    /// The C error number, when a system call failed.
    public var errno: Int32?

    /// Creates an error.
    public init(code: Code, message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// `"[code] message (errno N: text)"`.
    public var description: String {
        guard let errno else { return "[\(code.rawValue)] \(message)" }
        return "[\(code.rawValue)] \(message) (errno \(errno): \(String(cString: strerror(errno))))"
    }
}
