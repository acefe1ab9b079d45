import Glibc

/// Snapshots read from, and artifacts written into, a ``ConfinedDirectory``: no symbolic link is
/// followed on the way or inside the tree, so neither can reach outside its root.
extension Snapshot {
    /// Snapshots the file or folder at `relative` beneath `directory` and returns its manifest, storing
    /// every file and the manifest text in `store` when it is non-nil (otherwise only hashing).
    ///
    /// The manifest is the one ``folder(at:store:honoringIgnoreFiles:)`` (without ignore files) or
    /// ``file(at:store:followingLinks:)`` gives for the same plain files, so digests do not depend on
    /// which one read them. Unlike those, a symbolic link anywhere (on the way to `relative`, as
    /// `relative` itself, or inside the folder) throws `symlinkRejected` naming the link and its
    /// target, wherever it points: files are read through descriptors opened beneath the root only.
    /// A `.git` entry at any depth is skipped.
    ///
    /// - Throws: ``ArtifactError`` `symlinkRejected`, `unsupportedFileType` (socket, FIFO, device),
    ///   `io` with `ENOENT` when nothing is at `relative`.
    public static func capture(
        _ relative: String, beneath directory: ConfinedDirectory, store: BlobStore?
    ) throws(ArtifactError) -> TreeManifest {
        func hash(_ fd: Int32, path: String) throws(ArtifactError) -> (Digest, Int64) {
            if let store { return try store.importContent(of: fd, path: path) }
            return try SHA256Hasher.digest(ofDescriptor: fd, path: path)
        }
        let manifest: TreeManifest
        switch try directory.kind(of: relative) {
        case nil:
            throw ArtifactError.io("snapshot", path: directory.path(of: relative), errno: ENOENT)
        case .symbolicLink(let target):
            throw directory.linkRejected(at: relative, target: target)
        case .other:
            throw ArtifactError(
                code: .unsupportedFileType,
                message: "\(directory.label): '\(relative)' is a socket, FIFO or device; only files and folders can be read",
                path: directory.path(of: relative))
        case .regularFile:
            let fd = try directory.openFile(relative)
            defer { FileIO.close(fd) }
            let info = try FileIO.fstat(fd, path: directory.path(of: relative))
            let (digest, size) = try hash(fd, path: directory.path(of: relative))
            let entry = TreeEntry.file(
                path: FileIO.lastComponent(relative), size: size, digest: digest,
                isExecutable: info.st_mode & S_IXUSR != 0)
            manifest = try TreeManifest(kind: .file, entries: [entry])
        case .directory:
            let folder = try directory.directory(at: relative)
            var entries: [TreeEntry] = []
            try folder.walk(skipping: { $0 == ".git" }) { (item) throws(ArtifactError) in
                switch item {
                case .file(let path, let fd, let isExecutable):
                    let (digest, size) = try hash(fd, path: folder.path(of: path))
                    entries.append(.file(path: path, size: size, digest: digest, isExecutable: isExecutable))
                case .emptyDirectory(let path):
                    entries.append(.directory(path: path))
                }
            }
            manifest = try TreeManifest(kind: .folder, entries: entries)
        }
        if let store { try store.put(manifest) }
        return manifest
    }

    /// Writes the artifact `manifest` at `relative` beneath `directory`, beside what is already there.
    ///
    /// For a `file` artifact `relative` is the file; for a `folder` it is a directory, created when
    /// missing and kept (with whatever else it holds) when present. Each file is written under a
    /// temporary name in its directory, then renamed over its name: a file of the same name is
    /// replaced, no other file is removed. Files are independent, writable copies (mode 0644, 0755
    /// when executable). Parent directories are created beneath the root.
    ///
    /// - Throws: ``ArtifactError`` `missingBlobs` (before writing anything), `symlinkRejected` for a
    ///   link on the way or where a file or folder goes (never followed, never removed),
    ///   `destinationExists` where a directory stands in a file's place (or the reverse), `io`. On
    ///   failure some files may already be written.
    public static func write(
        _ manifest: TreeManifest, from store: BlobStore, beneath directory: ConfinedDirectory, at relative: String
    ) throws(ArtifactError) {
        let missing = missingBlobs(of: manifest, in: store)
        if !missing.isEmpty {
            throw ArtifactError(
                code: .missingBlobs,
                message: "\(missing.count) blob(s) of artifact \(manifest.digest) are missing from '\(store.root)'; "
                    + "fetch them before writing it to \(directory.label)")
        }
        switch manifest.kind {
        case .file:
            let entry = manifest.entries[0]
            try copy(entry, from: store, into: directory, at: relative)
        case .folder:
            let destination = try directory.makeDirectories(relative)
            for entry in manifest.entries {
                try TreePath.validate(entry.path)
                if entry.kind == .directory {
                    _ = try destination.makeDirectories(entry.path)
                } else {
                    try copy(entry, from: store, into: destination, at: entry.path)
                }
            }
        }
    }

    private static func copy(
        _ entry: TreeEntry, from store: BlobStore, into directory: ConfinedDirectory, at relative: String
    ) throws(ArtifactError) {
        guard let digest = entry.digest else { return }
        try directory.writeFile(relative, mode: entry.isExecutable ? 0o755 : 0o644) { (output) throws(ArtifactError) in
            let input = try store.openBlob(digest)
            defer { FileIO.close(input) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SHA256Hasher.chunkSize, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = try FileIO.read(input, into: buffer, path: store.root)
                if count == 0 { break }
                try FileIO.writeAll(
                    output, UnsafeRawBufferPointer(rebasing: buffer[0..<count]), path: directory.path(of: relative))
            }
        }
    }
}
