import Glibc

/// Turning files and folders into manifests and blobs, and back.
public enum Snapshot {
    /// Names of ignore files looked for at a folder's root, in order of precedence.
    public static let ignoreFileNames = [".amlignore", ".gitignore"]

    /// Walks the folder at `path` and returns its manifest, storing every file and the manifest text in
    /// `store` when it is non-nil (otherwise only hashing).
    ///
    /// - Ignore rules come from `.amlignore` at the root if it exists, else from `.gitignore` at the root
    ///   (see ``IgnoreRules``); ignore files in subfolders are not read. The ignore file itself is included
    ///   unless a rule ignores it. A `.git` entry at any depth is always skipped.
    /// - Symbolic links are never followed out of the root: a link to a regular file inside the root is
    ///   recorded as that file's content (under the link's path); a link to a directory, to anything outside
    ///   the root, or a dangling link throws `symlinkRejected` unless an ignore rule skips it.
    /// - Sockets, FIFOs and devices throw `unsupportedFileType` unless ignored.
    /// - Directories left with no entries are recorded as `d` entries.
    /// - Modification times are not read: touching a file changes nothing.
    /// - `honoringIgnoreFiles: false` records every file (for step outputs and data, which Azure
    ///   uploads whole); only code snapshots honour ignore files.
    public static func folder(at path: String, store: BlobStore?, honoringIgnoreFiles: Bool = true) throws(ArtifactError) -> TreeManifest {
        guard let info = FileIO.stat(path) else { throw ArtifactError.io("snapshot folder", path: path) }
        guard FileIO.isDirectory(info) else {
            throw ArtifactError(
                code: .unsupportedFileType,
                message: "'\(path)' is not a folder; snapshot it with Snapshot.file(at:store:)", path: path)
        }
        guard let realRoot = FileIO.realPath(path) else { throw ArtifactError.io("resolve", path: path) }
        let rules = honoringIgnoreFiles ? try loadIgnoreRules(root: path) : IgnoreRules.none
        var walker = Walker(
            root: path, realRoot: realRoot, rules: rules, store: store, honoringIgnoreFiles: honoringIgnoreFiles)
        _ = try walker.walk("")
        let manifest = try TreeManifest(kind: .folder, entries: walker.entries)
        if let store { try store.put(manifest) }
        return manifest
    }

    /// Snapshots one file as a `file` artifact whose single entry is named after the file's last path
    /// component.
    ///
    /// A symlink given as `path` is followed when `followingLinks` is true (a file named on the command
    /// line). With `followingLinks: false` (a step's `uri_file` output, written by the step) a symlink is
    /// refused with `symlinkRejected`, naming where it points: the output must be the file itself, never a
    /// way to read a file elsewhere on the worker.
    public static func file(at path: String, store: BlobStore?, followingLinks: Bool = true) throws(ArtifactError) -> TreeManifest {
        if !followingLinks, let info = FileIO.lstat(path), FileIO.isSymlink(info) {
            let target = FileIO.readLink(path) ?? "?"
            throw ArtifactError(
                code: .symlinkRejected,
                message: "'\(path)' is a symbolic link to '\(target)'; write the file itself there, not a link",
                path: path)
        }
        guard let info = FileIO.stat(path) else { throw ArtifactError.io("snapshot file", path: path) }
        guard FileIO.isRegular(info) else {
            throw ArtifactError(
                code: .unsupportedFileType,
                message: "'\(path)' is not a regular file; snapshot folders with Snapshot.folder(at:store:)",
                path: path)
        }
        let (digest, size) = try hash(path, store: store, followingLinks: followingLinks)
        let entry = TreeEntry.file(
            path: FileIO.lastComponent(path), size: size, digest: digest,
            isExecutable: info.st_mode & S_IXUSR != 0)
        let manifest = try TreeManifest(kind: .file, entries: [entry])
        if let store { try store.put(manifest) }
        return manifest
    }

    /// Recreates the artifact at `destination` from `store`.
    ///
    /// For a `file` artifact `destination` is the file's path (its parent folders are created); for a
    /// `folder` it is a directory that must not exist yet or be empty. Plain files are hard links to the
    /// stored blobs (read-only, mode 0444) where possible, else copies; executable files are always copies
    /// with mode 0755, because a hard link shares its mode with the blob. Nothing is written outside
    /// `destination`: every path is checked again and no existing symlink is followed.
    ///
    /// With `linking: false` every file is an independent, writable copy (for outputs handed to a
    /// user, who may edit them).
    ///
    /// - Throws: ``ArtifactError`` `missingBlobs` (before writing anything) when blobs are absent,
    ///   `destinationExists`, `unsafePath`, or `io`. On failure part of the tree may exist: remove it.
    public static func materialize(
        _ manifest: TreeManifest, from store: BlobStore, at destination: String, linking: Bool = true
    ) throws(ArtifactError) {
        let missing = missingBlobs(of: manifest, in: store)
        if !missing.isEmpty {
            let shown = missing.prefix(3).map(\.hex).joined(separator: ", ")
            throw ArtifactError(
                code: .missingBlobs,
                message: "\(missing.count) blob(s) of artifact \(manifest.digest) are missing from '\(store.root)' "
                    + "(\(shown)\(missing.count > 3 ? ", …" : "")); fetch them before materializing")
        }
        switch manifest.kind {
        case .file:
            let entry = manifest.entries[0]
            try TreePath.validate(entry.path)
            if FileIO.lstat(destination) != nil { throw exists(destination) }
            let parent = FileIO.parentPath(destination)
            if !parent.isEmpty { try FileIO.makeDirectories(parent) }
            try place(entry, from: store, at: destination, linking: linking)
        case .folder:
            if let info = FileIO.lstat(destination) {
                guard FileIO.isDirectory(info), try FileIO.listDirectory(destination).isEmpty else {
                    throw exists(destination)
                }
            } else {
                try FileIO.makeDirectories(destination)
            }
            for entry in manifest.entries {
                try TreePath.validate(entry.path)
                let components = entry.path.split(separator: "/").map(String.init)
                let directoryDepth = entry.kind == .directory ? components.count : components.count - 1
                var current = destination
                for component in components.prefix(directoryDepth) {
                    current = FileIO.join(current, component)
                    try makeRealDirectory(current)
                }
                if entry.kind == .file {
                    try place(entry, from: store, at: FileIO.join(current, components[components.count - 1]), linking: linking)
                }
            }
        }
    }

    /// The blobs of `manifest`'s files that are absent from `store` or have a size other than the one
    /// recorded, sorted and without duplicates. Empty means a cache hit may count (sizes are checked, not
    /// hashes: use ``BlobStore/verify(_:)`` for that).
    public static func missingBlobs(of manifest: TreeManifest, in store: BlobStore) -> [Digest] {
        var storedSizes: [Digest: Int64?] = [:]
        var missing = Set<Digest>()
        for entry in manifest.entries where entry.kind == .file {
            guard let digest = entry.digest else { continue }
            let stored: Int64?
            if let known = storedSizes[digest] {
                stored = known
            } else {
                stored = store.size(of: digest)
                storedSizes[digest] = .some(stored)
            }
            if stored != entry.size { missing.insert(digest) }
        }
        return missing.sorted()
    }

    /// Reads the root's ignore rules (`.amlignore` first, then `.gitignore`), or ``IgnoreRules/none``.
    public static func loadIgnoreRules(root: String) throws(ArtifactError) -> IgnoreRules {
        for name in ignoreFileNames {
            let path = FileIO.join(root, name)
            guard let info = FileIO.stat(path), FileIO.isRegular(info) else { continue }
            guard info.st_size <= 16 << 20 else {
                throw ArtifactError(
                    code: .invalidIgnoreFile, message: "'\(path)' is larger than 16 MiB; shorten it", path: path)
            }
            let fd = try FileIO.openForReading(path)
            defer { FileIO.close(fd) }
            var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
            let count = try FileIO.withMutableBytes(&bytes) { (buffer) throws(ArtifactError) -> Int in
                try FileIO.readFully(fd, into: buffer, at: 0, path: path)
            }
            return IgnoreRules(parsing: String(decoding: bytes[0..<count], as: UTF8.self))
        }
        return .none
    }

    // MARK: - Internals

    /// Hashes (and stores) the regular file at `path`; a symlink in the last component is refused unless
    /// `followingLinks`, so a file swapped for a link after the walk saw it is never read through.
    private static func hash(_ path: String, store: BlobStore?, followingLinks: Bool) throws(ArtifactError) -> (Digest, Int64) {
        if let store { return try store.importRegularFile(at: path, followingLinks: followingLinks) }
        return try SHA256Hasher.digest(ofRegularFileAt: path, followingLinks: followingLinks)
    }

    private static func place(_ entry: TreeEntry, from store: BlobStore, at path: String, linking: Bool) throws(ArtifactError) {
        guard let digest = entry.digest else { return }
        if entry.isExecutable || !linking {
            try store.copy(digest, to: path, mode: entry.isExecutable ? 0o755 : 0o644)
        } else {
            try store.linkOrCopy(digest, to: path)
        }
    }

    private static func makeRealDirectory(_ path: String) throws(ArtifactError) {
        if let info = FileIO.lstat(path) {
            guard FileIO.isDirectory(info) else {
                throw ArtifactError(
                    code: .unsafePath,
                    message: "'\(path)' exists and is not a directory (a symlink is never followed); "
                        + "materialize into an empty destination",
                    path: path)
            }
            return
        }
        if mkdir(path, 0o755) != 0 { throw ArtifactError.io("create directory", path: path) }
    }

    private static func exists(_ path: String) -> ArtifactError {
        ArtifactError(
            code: .destinationExists,
            message: "'\(path)' already exists; materialize into a new path or an empty directory",
            path: path)
    }

    /// Depth-first walk collecting entries.
    private struct Walker {
        let root: String
        let realRoot: String
        let rules: IgnoreRules
        let store: BlobStore?
        /// Whether an ignore file could skip a refused entry (code snapshots), which messages then suggest.
        let honoringIgnoreFiles: Bool
        var entries: [TreeEntry] = []

        /// Walks `relative` (a directory, "" for the root); returns whether it produced any entry.
        mutating func walk(_ relative: String) throws(ArtifactError) -> Bool {
            let directory = FileIO.join(root, relative)
            var produced = false
            for name in try FileIO.listDirectory(directory).sorted() {
                if name == ".git" { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                let absolute = FileIO.join(root, path)
                guard let info = FileIO.lstat(absolute) else {
                    if lastErrno() == ENOENT { continue }  // vanished while walking
                    throw ArtifactError.io("stat", path: absolute)
                }
                if FileIO.isDirectory(info) {
                    if rules.isIgnored(path, isDirectory: true) { continue }
                    if try !walk(path) { entries.append(.directory(path: path)) }
                    produced = true
                } else if FileIO.isRegular(info) {
                    if rules.isIgnored(path, isDirectory: false) { continue }
                    try addFile(path: path, contentAt: absolute, mode: info.st_mode)
                    produced = true
                } else if FileIO.isSymlink(info) {
                    let target = FileIO.stat(absolute)
                    if rules.isIgnored(path, isDirectory: target.map(FileIO.isDirectory) ?? false) { continue }
                    let resolved = try resolveLink(path: path, absolute: absolute, target: target)
                    try addFile(path: path, contentAt: resolved, mode: target!.st_mode)
                    produced = true
                } else {
                    if rules.isIgnored(path, isDirectory: false) { continue }
                    throw ArtifactError(
                        code: .unsupportedFileType,
                        message: "'\(absolute)' is a socket, FIFO or device; remove it"
                            + (honoringIgnoreFiles ? " or add '\(path)' to .amlignore" : ""),
                        path: absolute)
                }
            }
            return produced
        }

        private mutating func addFile(path: String, contentAt file: String, mode: mode_t) throws(ArtifactError) {
            // `file` is a listed regular file or a link's resolved real path: neither is a link now.
            let (digest, size) = try Snapshot.hash(file, store: store, followingLinks: false)
            entries.append(.file(path: path, size: size, digest: digest, isExecutable: mode & S_IXUSR != 0))
        }

        /// The resolved target of a symlink that may be recorded: a regular file inside the root.
        private func resolveLink(path: String, absolute: String, target: stat?) throws(ArtifactError) -> String {
            let text = FileIO.readLink(absolute) ?? "?"
            func reject(_ why: String) -> ArtifactError {
                ArtifactError(
                    code: .symlinkRejected,
                    message: "symlink '\(path)' -> '\(text)' \(why); "
                        + (honoringIgnoreFiles
                            ? "replace it with a copy or add '\(path)' to .amlignore"
                            : "write a copy of the file there instead of a link"),
                    path: absolute)
            }
            guard let target, let resolved = FileIO.realPath(absolute) else { throw reject("is dangling") }
            let prefix = realRoot.hasSuffix("/") ? realRoot : realRoot + "/"
            guard resolved.hasPrefix(prefix) else { throw reject("points outside the snapshot root") }
            guard FileIO.isRegular(target) else { throw reject("does not point to a regular file") }
            return resolved
        }
    }
}
