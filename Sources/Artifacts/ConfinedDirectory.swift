import Glibc

/// A directory opened once, beneath which every path is resolved by descriptor, one component at a
/// time with `openat(…, O_NOFOLLOW)`: nothing it opens, creates, lists or writes is outside it.
///
/// - A symbolic link met on the way (in the middle of a path, as its last component, or inside a
///   tree being walked) is never followed: the call throws `symlinkRejected`, naming the root's
///   ``label``, the link's path and where it points. The check is made on the opened descriptors, not
///   on the path text, so a link planted between two calls cannot redirect the next one either.
/// - Paths are relative and `/`-separated; absolute paths and `.`/`..` components are refused
///   (`unsafePath`). Empty components (`a//b`) are skipped.
/// - The root itself is opened by its path as given, links included: it is the trusted part.
/// - A file is written under a temporary name in its directory, then renamed over its final name, so
///   a reader sees the old or the new content; nothing else in the directory is touched.
///
/// The descriptor is closed when the value is released. The type holds only constants and makes
/// only system calls relative to its descriptor, so it may be shared across threads.
public final class ConfinedDirectory: Sendable {
    /// The root's path as it was opened; used in messages, never to reach files.
    public let rootPath: String
    /// How messages name the root, e.g. `datastore shared`.
    public let label: String
    /// This directory's path relative to the root (`""` for the root itself).
    public let relativePath: String
    /// The open directory.
    let descriptor: Int32

    /// What is at a path beneath the directory, without following a link.
    public enum EntryKind: Sendable, Hashable {
        /// A regular file.
        case regularFile
        /// A directory.
        case directory
        /// A symbolic link, with the text it points to.
        case symbolicLink(target: String)
        /// A socket, FIFO or device.
        case other
    }

    /// Opens the directory at `path` (following links in `path` itself). With `creating` it and its
    /// missing parents are created first.
    ///
    /// - Parameter label: how messages name the root (default: its path).
    /// - Throws: ``ArtifactError`` `io` when it cannot be opened or is not a directory.
    public init(path: String, label: String? = nil, creating: Bool = false) throws(ArtifactError) {
        if creating { try FileIO.makeDirectories(path) }
        let fd = try FileIO.open(path, flags: O_RDONLY | O_DIRECTORY, mode: 0, operation: "open directory")
        self.rootPath = path
        self.label = label ?? "'\(path)'"
        self.relativePath = ""
        self.descriptor = fd
    }

    private init(descriptor: Int32, parent: ConfinedDirectory, relativePath: String) {
        self.rootPath = parent.rootPath
        self.label = parent.label
        self.relativePath = relativePath
        self.descriptor = descriptor
    }

    deinit {
        FileIO.close(descriptor)
    }

    // MARK: - Public operations

    /// What is at `relative`, or nil when it (or one of its parents) does not exist. A link as the
    /// last component is reported, not followed; a link on the way throws `symlinkRejected`.
    public func kind(of relative: String) throws(ArtifactError) -> EntryKind? {
        let names = try components(of: relative)
        guard let last = names.last else { return .directory }
        let parent: Int32
        do throws(ArtifactError) {
            parent = try descend(names.dropLast(), creating: false)
        } catch let error where error.errno == ENOENT {
            return nil
        }
        defer { FileIO.close(parent) }
        return try entryKind(in: parent, name: last, shown: shown(names))
    }

    /// The directory at `relative` (`""`: this one, reopened), reached without following any link.
    ///
    /// - Throws: `symlinkRejected` for a link on the way; `io` when a component is missing or not a
    ///   directory.
    public func directory(at relative: String) throws(ArtifactError) -> ConfinedDirectory {
        let names = try components(of: relative)
        let fd = try descend(names[...], creating: false)
        return ConfinedDirectory(descriptor: fd, parent: self, relativePath: shown(names))
    }

    /// Creates the directory at `relative` and its missing parents (like `mkdir -p`), never following a
    /// link, and returns it. Existing directories are kept as they are.
    public func makeDirectories(_ relative: String) throws(ArtifactError) -> ConfinedDirectory {
        let names = try components(of: relative)
        let fd = try descend(names[...], creating: true)
        return ConfinedDirectory(descriptor: fd, parent: self, relativePath: shown(names))
    }

    /// Reads the whole regular file at `relative` (for small files: tests, markers).
    public func contents(of relative: String) throws(ArtifactError) -> [UInt8] {
        let fd = try openFile(relative)
        defer { FileIO.close(fd) }
        let path = fullPath(shown(try components(of: relative)))
        let info = try FileIO.fstat(fd, path: path)
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = try FileIO.withMutableBytes(&bytes) { (buffer) throws(ArtifactError) -> Int in
            try FileIO.readFully(fd, into: buffer, at: 0, path: path)
        }
        return Array(bytes[0..<count])
    }

    /// Writes the file at `relative`: `write` fills a new file opened under a temporary name in the
    /// same directory, which is then given `mode` and renamed over `relative`. Parent directories are
    /// created (beneath the root) when missing.
    ///
    /// An existing regular file at `relative` is replaced; other files in the directory are not
    /// touched. A link there or on the way throws `symlinkRejected`, a directory there
    /// `destinationExists`: neither is removed.
    public func writeFile(
        _ relative: String, mode: mode_t = 0o644, _ write: (_ descriptor: Int32) throws(ArtifactError) -> Void
    ) throws(ArtifactError) {
        let names = try components(of: relative)
        guard let last = names.last else {
            throw ArtifactError(
                code: .unsafePath, message: "\(label): an empty path names no file; name the file to write",
                path: rootPath)
        }
        let shownPath = shown(names)
        let parent = try descend(names.dropLast(), creating: true)
        defer { FileIO.close(parent) }
        switch try entryKind(in: parent, name: last, shown: shownPath) {
        case nil, .regularFile:
            break
        case .symbolicLink(let target):
            throw linkRejected(shownPath, target: target)
        case .directory, .other:
            throw ArtifactError(
                code: .destinationExists,
                message: "\(label): '\(shownPath)' exists and is not a regular file; remove it or write elsewhere",
                path: fullPath(shownPath))
        }
        let temporary = "." + FileIO.uniqueName(prefix: "conduit-write")
        let fd = try openAt(
            parent, temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600,
            operation: "create", shown: shownPath)
        var renamed = false
        defer {
            FileIO.close(fd)
            if !renamed { _ = unlinkat(parent, temporary, 0) }
        }
        try write(fd)
        _ = fchmod(fd, mode)
        try FileIO.fsync(fd, path: fullPath(shownPath))
        guard renameat(parent, temporary, parent, last) == 0 else {
            throw ArtifactError.io("rename into", path: fullPath(shownPath))
        }
        renamed = true
        _ = fsync(parent)
    }

    /// One regular file or empty directory met by ``walk(_:skipping:visit:)``.
    public enum WalkItem {
        /// A regular file, open for reading (valid only during the visit; the walk closes it).
        case file(path: String, descriptor: Int32, isExecutable: Bool)
        /// A directory with nothing (kept) in it.
        case emptyDirectory(path: String)
    }

    /// Walks the tree at `relative` depth-first in name order, calling `visit` for every regular file
    /// and every directory left empty; paths are relative to `relative`. Names for which `skipping`
    /// is true are left out (with what is under them).
    ///
    /// - Throws: `symlinkRejected` for any link in the tree (never followed, wherever it points),
    ///   `unsupportedFileType` for a socket, FIFO or device. Entries that vanish while walking are
    ///   skipped.
    public func walk(
        _ relative: String = "", skipping: (String) -> Bool = { _ in false },
        visit: (WalkItem) throws(ArtifactError) -> Void
    ) throws(ArtifactError) {
        let names = try components(of: relative)
        let fd = try descend(names[...], creating: false)
        defer { FileIO.close(fd) }
        _ = try walk(fd, prefix: "", base: shown(names), skipping: skipping, visit: visit)
    }

    // MARK: - Internals

    /// Opens the regular file at `relative` for reading without following any link; the caller closes it.
    func openFile(_ relative: String) throws(ArtifactError) -> Int32 {
        let names = try components(of: relative)
        guard let last = names.last else {
            throw ArtifactError.io("open for reading", path: fullPath(relativePath), errno: EISDIR)
        }
        let parent = try descend(names.dropLast(), creating: false)
        defer { FileIO.close(parent) }
        return try openRegular(in: parent, name: last, shown: shown(names))
    }

    /// The full path of `fromRoot` (a path relative to the root), for messages.
    func fullPath(_ fromRoot: String) -> String {
        FileIO.join(rootPath, fromRoot)
    }

    /// The full path of `relative` (a path relative to this directory), for messages.
    func path(of relative: String) -> String {
        fullPath(Self.joined(relativePath, relative))
    }

    /// The refusal of the link at `relative` (relative to this directory) pointing to `target`.
    func linkRejected(at relative: String, target: String) -> ArtifactError {
        linkRejected(Self.joined(relativePath, relative), target: target)
    }

    /// `base/name`, or `name` alone when `base` is empty.
    private static func joined(_ base: String, _ name: String) -> String {
        base.isEmpty ? name : (name.isEmpty ? base : base + "/" + name)
    }

    /// `relative` split into components, checked.
    private func components(of relative: String) throws(ArtifactError) -> [String] {
        if relative.hasPrefix("/") {
            throw ArtifactError(
                code: .unsafePath,
                message: "\(label): '\(relative)' is absolute; paths in \(label) are relative to \(rootPath)",
                path: relative)
        }
        let names = relative.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        for name in names where name == "." || name == ".." || name.utf8.contains(0) {
            throw ArtifactError(
                code: .unsafePath,
                message: "\(label): '\(relative)' has a '\(name == "." || name == ".." ? name : "NUL")' component; "
                    + "name a path inside \(rootPath) without '.' or '..'",
                path: relative)
        }
        return names
    }

    /// The path of `names` relative to the root.
    private func shown(_ names: some Collection<String>) -> String {
        Self.joined(relativePath, names.joined(separator: "/"))
    }

    /// Opens (creating when asked) each directory of `names` in turn; returns a new descriptor.
    private func descend(_ names: ArraySlice<String>, creating: Bool) throws(ArtifactError) -> Int32 {
        var current = try openAt(
            descriptor, ".", flags: O_RDONLY | O_DIRECTORY, mode: 0, operation: "open directory", shown: relativePath)
        var walked: [String] = []
        for name in names {
            walked.append(name)
            let next: Int32
            do throws(ArtifactError) {
                next = try openDirectory(in: current, name: name, shown: shown(walked), creating: creating)
            } catch {
                FileIO.close(current)
                throw error
            }
            FileIO.close(current)
            current = next
        }
        return current
    }

    private func openDirectory(in parent: Int32, name: String, shown: String, creating: Bool) throws(ArtifactError) -> Int32 {
        do throws(ArtifactError) {
            return try openAt(
                parent, name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0, operation: "open directory",
                shown: shown)
        } catch {
            switch error.errno {
            case ENOENT where creating:
                if mkdirat(parent, name, 0o755) != 0 && lastErrno() != EEXIST {
                    throw ArtifactError.io("create directory", path: fullPath(shown))
                }
                return try openDirectory(in: parent, name: name, shown: shown, creating: false)
            case ELOOP, ENOTDIR:
                if case .symbolicLink(let target) = try entryKind(in: parent, name: name, shown: shown) {
                    throw linkRejected(shown, target: target)
                }
                throw ArtifactError(
                    code: .unsafePath,
                    message: "\(label): '\(shown)' is not a directory; a path beneath it cannot be used",
                    path: fullPath(shown), errno: ENOTDIR)
            default:
                throw error
            }
        }
    }

    private func openRegular(in parent: Int32, name: String, shown: String) throws(ArtifactError) -> Int32 {
        let fd: Int32
        do throws(ArtifactError) {
            fd = try openAt(
                parent, name, flags: O_RDONLY | O_NONBLOCK | O_NOFOLLOW, mode: 0, operation: "open for reading",
                shown: shown)
        } catch let error where error.errno == ELOOP {
            let target = Self.linkTarget(in: parent, name: name) ?? "?"
            throw linkRejected(shown, target: target)
        }
        let info: stat
        do throws(ArtifactError) {
            info = try FileIO.fstat(fd, path: fullPath(shown))
        } catch {
            FileIO.close(fd)
            throw error
        }
        guard FileIO.isRegular(info) else {
            FileIO.close(fd)
            throw ArtifactError(
                code: .unsupportedFileType,
                message: "\(label): '\(shown)' is not a regular file; only files and folders can be read",
                path: fullPath(shown))
        }
        return fd
    }

    private func entryKind(in parent: Int32, name: String, shown: String) throws(ArtifactError) -> EntryKind? {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if lastErrno() == ENOENT { return nil }
            throw ArtifactError.io("stat", path: fullPath(shown))
        }
        if FileIO.isRegular(info) { return .regularFile }
        if FileIO.isDirectory(info) { return .directory }
        if FileIO.isSymlink(info) { return .symbolicLink(target: Self.linkTarget(in: parent, name: name) ?? "?") }
        return .other
    }

    private func openAt(
        _ parent: Int32, _ name: String, flags: Int32, mode: mode_t, operation: String, shown: String
    ) throws(ArtifactError) -> Int32 {
        while true {
            let fd = openat(parent, name, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let error = lastErrno()
            if error == EINTR { continue }
            throw ArtifactError.io(operation, path: fullPath(shown), errno: error)
        }
    }

    /// The refusal of a link at `shown`.
    func linkRejected(_ shown: String, target: String) -> ArtifactError {
        let leaves = target.hasPrefix("/") || target.split(separator: "/").contains("..")
        return ArtifactError(
            code: .symlinkRejected,
            message: "\(label): '\(shown)' is a symbolic link to '\(target)'"
                + (leaves ? ", which may lead outside \(rootPath)" : "")
                + "; Conduit never follows links in \(label): replace the link with the file or folder itself",
            path: fullPath(shown))
    }

    /// The text of the link `name` in `parent`, or nil when it is not a readable link.
    static func linkTarget(in parent: Int32, name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(parent, name, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in the open directory `fd` with their (not followed) status, sorted by name.
    private func listing(_ fd: Int32, shown: String) throws(ArtifactError) -> [(name: String, info: stat)] {
        let own = try openAt(fd, ".", flags: O_RDONLY | O_DIRECTORY, mode: 0, operation: "list directory", shown: shown)
        guard let stream = fdopendir(own) else {
            FileIO.close(own)
            throw ArtifactError.io("list directory", path: fullPath(shown))
        }
        defer { closedir(stream) }
        let names = try FileIO.names(in: stream, shown: "\(label) '\(shown)'", path: fullPath(shown))
        var result: [(name: String, info: stat)] = []
        for name in names.sorted() {
            var info = stat()
            if fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
                result.append((name, info))
            } else if lastErrno() != ENOENT {  // vanished while listing: skipped
                throw ArtifactError.io("stat", path: fullPath(Self.joined(shown, name)))
            }
        }
        return result
    }

    /// Walks the open directory `fd`; returns whether it produced any item.
    private func walk(
        _ fd: Int32, prefix: String, base: String, skipping: (String) -> Bool,
        visit: (WalkItem) throws(ArtifactError) -> Void
    ) throws(ArtifactError) -> Bool {
        var produced = false
        for (name, info) in try listing(fd, shown: Self.joined(base, prefix)) {
            if skipping(name) { continue }
            let path = prefix.isEmpty ? name : prefix + "/" + name
            let shownPath = Self.joined(base, path)
            if FileIO.isDirectory(info) {
                let child: Int32
                do throws(ArtifactError) {
                    child = try openDirectory(in: fd, name: name, shown: shownPath, creating: false)
                } catch let error where error.errno == ENOENT {
                    continue  // vanished while walking
                }
                defer { FileIO.close(child) }
                if try !walk(child, prefix: path, base: base, skipping: skipping, visit: visit) {
                    try visit(.emptyDirectory(path: path))
                }
                produced = true
            } else if FileIO.isRegular(info) {
                let file: Int32
                do throws(ArtifactError) {
                    file = try openRegular(in: fd, name: name, shown: shownPath)
                } catch let error where error.errno == ENOENT {
                    continue  // vanished while walking
                }
                defer { FileIO.close(file) }
                let opened = try FileIO.fstat(file, path: fullPath(shownPath))
                try visit(.file(path: path, descriptor: file, isExecutable: opened.st_mode & S_IXUSR != 0))
                produced = true
            } else if FileIO.isSymlink(info) {
                throw linkRejected(shownPath, target: Self.linkTarget(in: fd, name: name) ?? "?")
            } else {
                throw ArtifactError(
                    code: .unsupportedFileType,
                    message: "\(label): '\(shownPath)' is a socket, FIFO or device; only files and folders can be read",
                    path: fullPath(shownPath))
            }
        }
        return produced
    }
}
