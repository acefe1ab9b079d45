/// The description of an artifact: a file or a folder, as entries sorted by path.
///
/// ## Canonical text (`conduit-tree-v1`)
/// UTF-8, every line ended by `\n`, no trailing spaces:
/// ```
/// conduit-tree-v1 folder
/// d data/empty
/// f 644 12 <64 hex> README.md
/// f 755 3051 <64 hex> bin/run.sh
/// ```
/// The header names the kind (`file` or `folder`). Then one line per entry, sorted by the bytes of the path
/// (UTF-8), no duplicates: `f <mode> <size> <sha256> <path>` for a regular file (mode `644`, or `755` when
/// the owner-execute bit is set), `d <path>` for an **empty** directory (other directories are implied by
/// the paths of their files and are never listed). The path is the rest of the line with `%`, control
/// characters (newline included) and DEL percent-escaped as `%XX` (uppercase hex); spaces stay as they are.
/// A `file` manifest has exactly one entry, a file whose path has no `/`.
///
/// The artifact's ``digest`` is SHA-256 of that text, and the text itself is stored as a blob under that
/// digest, so an artifact digest is also the blob id of its manifest. Modification times, owners and
/// permission bits other than owner-execute are not recorded: identical content gives an identical digest.
///
/// Every way to build a manifest (``init(kind:entries:)``, ``parse(canonicalText:)``, `Decodable`) checks it,
/// so a `TreeManifest` value is always valid: safe paths, no duplicates, no file that is also a parent.
public struct TreeManifest: Codable, Hashable, Sendable {
    /// Whether the artifact is a single file or a folder.
    public enum Kind: String, Codable, Hashable, Sendable {
        /// A single file; the manifest has exactly one entry, named after the file.
        case file
        /// A folder (possibly empty).
        case folder
    }

    /// The first word of the canonical text's header line.
    public static let formatTag = "conduit-tree-v1"

    /// File or folder.
    public let kind: Kind
    /// Entries sorted by path (UTF-8 byte order), without duplicates.
    public let entries: [TreeEntry]
    /// The canonical text (see the type's documentation), built once: the manifest is immutable.
    public let canonicalText: String
    /// SHA-256 of ``canonicalText``: the artifact's identity and the blob id of its manifest.
    public let digest: Digest

    /// Sorts `entries` by path and checks the result (see the type's documentation).
    ///
    /// - Throws: ``ArtifactError`` `unsafePath` for a bad path, `invalidManifest` for duplicates, a file used
    ///   as a directory, a non-empty `d` entry, or a `file` manifest without exactly one top-level file.
    public init(kind: Kind, entries: [TreeEntry]) throws(ArtifactError) {
        let sorted = entries.sorted { TreePath.precedes($0.path, $1.path) }
        try Self.check(kind: kind, sortedEntries: sorted)
        self.init(checkedKind: kind, sortedEntries: sorted)
    }

    private init(checkedKind kind: Kind, sortedEntries: [TreeEntry]) {
        self.kind = kind
        self.entries = sortedEntries
        self.canonicalText = Self.canonicalText(kind: kind, entries: sortedEntries)
        self.digest = SHA256Hasher.digest(of: Array(canonicalText.utf8))
    }

    /// The total size of the files, in bytes.
    public var totalSize: Int64 { entries.reduce(0) { $0 + $1.size } }

    /// The file entries only.
    public var files: [TreeEntry] { entries.filter { $0.kind == .file } }

    private static func canonicalText(kind: Kind, entries: [TreeEntry]) -> String {
        var text = "\(Self.formatTag) \(kind.rawValue)\n"
        for entry in entries {
            switch entry.kind {
            case .file:
                text += "f \(entry.isExecutable ? "755" : "644") \(entry.size) \(entry.digest!.hex) "
            case .directory:
                text += "d "
            }
            text += TreePath.escape(entry.path)
            text += "\n"
        }
        return text
    }

    /// The canonical text as bytes, ready to be stored as a blob.
    public var canonicalBytes: [UInt8] { Array(canonicalText.utf8) }


    /// Parses canonical text strictly: anything ``canonicalText`` would not produce is rejected.
    ///
    /// - Throws: ``ArtifactError`` `invalidManifest` (with the line number) or `unsafePath`.
    public static func parse(canonicalText text: String) throws(ArtifactError) -> TreeManifest {
        func fail(_ line: Int, _ why: String) -> ArtifactError {
            ArtifactError(
                code: .invalidManifest,
                message: "manifest line \(line): \(why); the manifest is corrupt or was not written by Conduit")
        }
        guard text.hasSuffix("\n") else { throw fail(1, "text must end with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard let header = lines.first else { throw fail(1, "missing header") }
        let kind: Kind
        switch header {
        case "\(formatTag) file": kind = .file
        case "\(formatTag) folder": kind = .folder
        default: throw fail(1, "header must be '\(formatTag) file' or '\(formatTag) folder'")
        }
        var entries: [TreeEntry] = []
        entries.reserveCapacity(lines.count - 1)
        for (offset, line) in lines.dropFirst().enumerated() {
            let number = offset + 2
            if line.hasPrefix("d ") {
                guard let path = TreePath.unescape(line.dropFirst(2)) else {
                    throw fail(number, "badly escaped path")
                }
                entries.append(.directory(path: path))
            } else if line.hasPrefix("f ") {
                let fields = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
                guard fields.count == 5 else { throw fail(number, "expected 'f <mode> <size> <sha256> <path>'") }
                let executable: Bool
                switch fields[1] {
                case "644": executable = false
                case "755": executable = true
                default: throw fail(number, "mode must be 644 or 755")
                }
                guard let size = Int64(fields[2]), size >= 0, String(size) == fields[2] else {
                    throw fail(number, "size must be a non-negative decimal without leading zeros")
                }
                guard let digest = Digest(hex: String(fields[3])) else {
                    throw fail(number, "digest must be 64 lowercase hex characters")
                }
                guard let path = TreePath.unescape(fields[4]) else { throw fail(number, "badly escaped path") }
                entries.append(.file(path: path, size: size, digest: digest, isExecutable: executable))
            } else {
                throw fail(number, "entry lines start with 'f ' or 'd '")
            }
        }
        for index in entries.indices.dropFirst()
        where !TreePath.precedes(entries[index - 1].path, entries[index].path) {
            throw fail(
                index + 2,
                entries[index - 1].path == entries[index].path
                    ? "duplicate path '\(TreePath.escape(entries[index].path))'"
                    : "entries are not sorted by path")
        }
        try check(kind: kind, sortedEntries: entries)
        return TreeManifest(checkedKind: kind, sortedEntries: entries)
    }

    /// Parses canonical text given as bytes (e.g. read from a blob); the bytes must be valid UTF-8.
    public static func parse(canonicalBytes bytes: some Collection<UInt8>) throws(ArtifactError) -> TreeManifest {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ArtifactError(
                code: .invalidManifest, message: "manifest is not valid UTF-8; the blob is corrupt or not a manifest")
        }
        return try parse(canonicalText: text)
    }

    private static func check(kind: Kind, sortedEntries entries: [TreeEntry]) throws(ArtifactError) {
        func fail(_ why: String) -> ArtifactError {
            ArtifactError(code: .invalidManifest, message: "invalid tree manifest: \(why)")
        }
        var filePaths = Set<String>()
        var parents = Set<String>()  // every proper ancestor directory of some entry
        for (index, entry) in entries.enumerated() {
            try TreePath.validate(entry.path)
            if index > 0 && entries[index - 1].path == entry.path {
                throw fail("duplicate path '\(TreePath.escape(entry.path))'")
            }
            if entry.kind == .file {
                guard entry.digest != nil, entry.size >= 0 else {
                    throw fail("file '\(TreePath.escape(entry.path))' needs a digest and a non-negative size")
                }
                filePaths.insert(entry.path)
            }
            var prefix = Substring(entry.path)
            while let slash = prefix.lastIndex(of: "/") {
                prefix = prefix[..<slash]
                if !parents.insert(String(prefix)).inserted { break }
            }
        }
        for entry in entries {
            if entry.kind == .directory && parents.contains(entry.path) {
                throw fail(
                    "directory entry '\(TreePath.escape(entry.path))' is not empty; only empty directories are listed")
            }
        }
        if let clash = parents.first(where: filePaths.contains) {
            throw fail("'\(TreePath.escape(clash))' is both a file and a directory")
        }
        if kind == .file {
            guard entries.count == 1, let only = entries.first, only.kind == .file, !only.path.contains("/") else {
                throw fail("a file artifact has exactly one file entry, named after the file, with no '/'")
            }
        }
    }

    private enum CodingKeys: String, CodingKey { case kind, entries }

    /// Decodes `{kind, entries}` and checks the manifest like ``init(kind:entries:)``, except that the
    /// entries must already be sorted.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(Kind.self, forKey: .kind)
        let entries = try container.decode([TreeEntry].self, forKey: .entries)
        for index in entries.indices.dropFirst() where !TreePath.precedes(entries[index - 1].path, entries[index].path) {
            throw ArtifactError(
                code: .invalidManifest, message: "invalid tree manifest: entries are not sorted by path or repeat one")
        }
        try Self.check(kind: kind, sortedEntries: entries)
        self.init(checkedKind: kind, sortedEntries: entries)
    }

    /// Encodes `{kind, entries}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(entries, forKey: .entries)
    }
}
