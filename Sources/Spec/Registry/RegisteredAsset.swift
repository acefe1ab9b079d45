/// What a registry records about one version of an asset (`asset.json` in the version's folder).
public struct RegisteredAsset: Codable, Hashable, Sendable {
    public var kind: AssetKind
    public var name: String
    public var version: String
    /// When the version was created, in milliseconds since 1970; `@latest` is the most recent.
    public var createdAt: Int64
    /// Digest of the registered content (the definition and code of a component, the files of a data
    /// asset); creating the same version again with the same digest changes nothing.
    public var digest: String
    public var description: String?
    /// Components: the definition's file name inside the version folder.
    public var definitionFile: String?
    /// Components: the folder (inside the version folder) holding the snapshot of `code:`, when there is one.
    public var codeDirectory: String?
    /// Data: `uri_file`, `uri_folder` or `mltable`.
    public var dataType: DataType?
    /// Data: the content's path inside the version folder (a file for `uri_file`, else a folder).
    public var contentPath: String?
    /// Where the asset was created from (informational).
    public var source: String?

    public init(
        kind: AssetKind, name: String, version: String, createdAt: Int64, digest: String, description: String? = nil,
        definitionFile: String? = nil, codeDirectory: String? = nil, dataType: DataType? = nil,
        contentPath: String? = nil, source: String? = nil
    ) {
        self.kind = kind
        self.name = name
        self.version = version
        self.createdAt = createdAt
        self.digest = digest
        self.description = description
        self.definitionFile = definitionFile
        self.codeDirectory = codeDirectory
        self.dataType = dataType
        self.contentPath = contentPath
        self.source = source
    }
}
