import Glibc

/// The calling thread's C `errno` (a function so that types with an `errno` property can read it).
func lastErrno() -> Int32 { errno }

/// Thin, `EINTR`-safe wrappers over the POSIX file calls the module needs; every failure becomes an
/// ``ArtifactError`` naming the path.
enum FileIO {
    static func openForReading(_ path: String) throws(ArtifactError) -> Int32 {
        try open(path, flags: O_RDONLY, mode: 0, operation: "open for reading")
    }

    /// Opens a file to read its content, refusing anything but a regular file: with `followingLinks: false`
    /// a symlink in the last component fails (`O_NOFOLLOW`) instead of being read through, so a file that
    /// was swapped for a link after it was listed is never read. FIFOs are opened without blocking, then
    /// refused.
    static func openRegularFile(_ path: String, followingLinks: Bool) throws(ArtifactError) -> Int32 {
        let flags = O_RDONLY | O_NONBLOCK | (followingLinks ? 0 : O_NOFOLLOW)
        let fd: Int32
        do throws(ArtifactError) {
            fd = try open(path, flags: flags, mode: 0, operation: "open for reading")
        } catch {
            guard error.errno == ELOOP, !followingLinks else { throw error }
            throw ArtifactError(
                code: .symlinkRejected,
                message: "'\(path)' became a symbolic link while it was being read; links are not followed",
                path: path)
        }
        let info: stat
        do throws(ArtifactError) {
            info = try fstat(fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        guard isRegular(info) else {
            close(fd)
            throw ArtifactError(
                code: .unsupportedFileType, message: "'\(path)' is not a regular file", path: path)
        }
        return fd
    }

    static func open(_ path: String, flags: Int32, mode: mode_t, operation: String) throws(ArtifactError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let error = lastErrno()
            if error == EINTR { continue }
            throw ArtifactError.io(operation, path: path, errno: error)
        }
    }

    /// `withUnsafeBytes` for a body with typed throws.
    static func withBytes<R>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ArtifactError) -> R
    ) throws(ArtifactError) -> R {
        try bytes.withUnsafeBytes { buffer in Result { () throws(ArtifactError) in try body(buffer) } }.get()
    }

    /// `withUnsafeMutableBytes` for a body with typed throws.
    static func withMutableBytes<R>(
        _ bytes: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(ArtifactError) -> R
    ) throws(ArtifactError) -> R {
        try bytes.withUnsafeMutableBytes { buffer in Result { () throws(ArtifactError) in try body(buffer) } }.get()
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(ArtifactError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let error = lastErrno()
            if error == EINTR { continue }
            throw ArtifactError.io("read", path: path, errno: error)
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`, looping over short reads; fewer only at end of file.
    static func readFully(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    ) throws(ArtifactError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count == 0 { break }
            if count < 0 {
                let error = lastErrno()
                if error == EINTR { continue }
                throw ArtifactError.io("read", path: path, errno: error)
            }
            done += count
        }
        return done
    }

    /// Writes every byte of `buffer` at `offset` (or at the current position when `offset` is nil).
    static func writeAll(
        _ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int64? = nil, path: String
    ) throws(ArtifactError) {
        guard var base = buffer.baseAddress else { return }
        var remaining = buffer.count
        var position = offset
        while remaining > 0 {
            let count: Int
            if let at = position {
                count = Glibc.pwrite(fd, base, remaining, off_t(at))
            } else {
                count = Glibc.write(fd, base, remaining)
            }
            if count < 0 {
                let error = lastErrno()
                if error == EINTR { continue }
                throw ArtifactError.io("write", path: path, errno: error)
            }
            base += count
            remaining -= count
            position = position.map { $0 + Int64(count) }
        }
    }

    static func fsync(_ fd: Int32, path: String) throws(ArtifactError) {
        while Glibc.fsync(fd) != 0 {
            let error = lastErrno()
            if error == EINTR { continue }
            // Some file systems (e.g. certain FUSE mounts) do not support fsync: durability is then theirs.
            if error == EINVAL || error == ENOTSUP { return }
            throw ArtifactError.io("fsync", path: path, errno: error)
        }
    }

    /// Best-effort fsync of a directory so that a rename inside it survives a crash.
    static func fsyncDirectory(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = Glibc.fsync(fd)
        _ = Glibc.close(fd)
    }

    static func stat(_ path: String) -> stat? {
        var info = Glibc.stat()
        return fstatat(AT_FDCWD, path, &info, 0) == 0 ? info : nil
    }

    static func lstat(_ path: String) -> stat? {
        var info = Glibc.stat()
        return Glibc.lstat(path, &info) == 0 ? info : nil
    }

    static func fstat(_ fd: Int32, path: String) throws(ArtifactError) -> stat {
        var info = Glibc.stat()
        guard Glibc.fstat(fd, &info) == 0 else { throw ArtifactError.io("stat", path: path) }
        return info
    }

    static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    static func isRegular(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }
    static func isSymlink(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFLNK }

    /// Creates `path` and its missing parents (like `mkdir -p`); fine when it already is a directory.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(ArtifactError) {
        if let info = stat(path) {
            guard isDirectory(info) else {
                throw ArtifactError.io("create directory", path: path, errno: ENOTDIR)
            }
            return
        }
        let parent = parentPath(path)
        if !parent.isEmpty && parent != path { try makeDirectories(parent, mode: mode) }
        if Glibc.mkdir(path, mode) != 0 {
            let error = lastErrno()
            if error == EEXIST, let info = stat(path), isDirectory(info) { return }
            throw ArtifactError.io("create directory", path: path, errno: error)
        }
    }

    static func rename(_ from: String, to: String) throws(ArtifactError) {
        guard Glibc.rename(from, to) == 0 else { throw ArtifactError.io("rename into", path: to) }
    }

    static func unlink(_ path: String) {
        _ = Glibc.unlink(path)
    }

    /// The symlink's target text, or nil when `path` is not a readable link.
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `realpath(3)`, or nil when the path does not resolve.
    static func realPath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Names in a directory, `.` and `..` excluded, in no particular order.
    static func listDirectory(_ path: String) throws(ArtifactError) -> [String] {
        guard let dir = opendir(path) else { throw ArtifactError.io("list directory", path: path) }
        defer { closedir(dir) }
        return try names(in: dir, shown: "'\(path)'", path: path)
    }

    /// The names an open directory stream reads, `.` and `..` excluded, in no particular order. A name
    /// that is not UTF-8 is refused: `shown` says where, in the message.
    static func names(in stream: OpaquePointer, shown: String, path: String) throws(ArtifactError) -> [String] {
        var names: [String] = []
        while let entry = readdir(stream) {
            let decoded = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(validatingCString: $0) }
            }
            guard let name = decoded else {
                throw ArtifactError(
                    code: .unsafePath,
                    message: "a file name in \(shown) is not valid UTF-8; rename it (artifact paths are UTF-8)",
                    path: path)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }

    static func parentPath(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func lastComponent(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    static func join(_ base: String, _ relative: String) -> String {
        if relative.isEmpty { return base }
        return base.hasSuffix("/") ? base + relative : base + "/" + relative
    }

    /// Copies `source` to a new file `destination` (which must not exist) in 1 MiB chunks.
    static func copyFile(from source: String, to destination: String, mode: mode_t) throws(ArtifactError) {
        let input = try openForReading(source)
        defer { close(input) }
        let output = try open(
            destination, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode, operation: "create")
        var succeeded = false
        defer {
            close(output)
            if !succeeded { unlink(destination) }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SHA256Hasher.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try read(input, into: buffer, path: source)
            if count == 0 { break }
            try writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<count]), path: destination)
        }
        _ = Glibc.fchmod(output, mode)  // the umask may have narrowed it
        succeeded = true
    }

    /// A unique file name for temporaries: pid, time and a random number.
    static func uniqueName(prefix: String) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return "\(prefix)-\(getpid())-\(now.tv_sec)\(now.tv_nsec)-\(UInt64.random(in: 0...UInt64.max))"
    }
}
