/// One entry of a ``TreeManifest``: a regular file with its content digest, or an empty directory.
///
/// Paths are relative, `/`-separated, with no empty, `.` or `..` components (see ``TreePath``).
public struct TreeEntry: Codable, Hashable, Sendable {
    /// What an entry is.
    public enum Kind: String, Codable, Hashable, Sendable {
        /// A regular file.
        case file
        /// An empty directory (non-empty directories are implied by the paths of their files).
        case directory
    }

    /// File or directory.
    public let kind: Kind
    /// Relative `/`-separated path.
    public let path: String
    /// Size in bytes (0 for directories).
    public let size: Int64
    /// SHA-256 of the content; nil for directories.
    public let digest: Digest?
    /// Whether the owner-execute bit is set (always false for directories).
    public let isExecutable: Bool

    /// A file entry.
    public static func file(path: String, size: Int64, digest: Digest, isExecutable: Bool = false) -> TreeEntry {
        TreeEntry(kind: .file, path: path, size: size, digest: digest, isExecutable: isExecutable)
    }

    /// An empty-directory entry.
    public static func directory(path: String) -> TreeEntry {
        TreeEntry(kind: .directory, path: path, size: 0, digest: nil, isExecutable: false)
    }

    private init(kind: Kind, path: String, size: Int64, digest: Digest?, isExecutable: Bool) {
        self.kind = kind
        self.path = path
        self.size = size
        self.digest = digest
        self.isExecutable = isExecutable
    }

    private enum CodingKeys: String, CodingKey {
        case kind, path, size, digest
        case isExecutable = "executable"
    }

    /// Decodes and checks the fields agree with the kind (the path is checked by ``TreeManifest``).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(Kind.self, forKey: .kind)
        let path = try container.decode(String.self, forKey: .path)
        switch kind {
        case .file:
            let size = try container.decode(Int64.self, forKey: .size)
            guard size >= 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .size, in: container, debugDescription: "file size must not be negative")
            }
            self = .file(
                path: path, size: size, digest: try container.decode(Digest.self, forKey: .digest),
                isExecutable: try container.decodeIfPresent(Bool.self, forKey: .isExecutable) ?? false)
        case .directory:
            self = .directory(path: path)
        }
    }

    /// Encodes `kind`, `path` and, for files, `size`, `digest` and `executable`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(path, forKey: .path)
        if kind == .file {
            try container.encode(size, forKey: .size)
            try container.encode(digest, forKey: .digest)
            try container.encode(isExecutable, forKey: .isExecutable)
        }
    }
}
