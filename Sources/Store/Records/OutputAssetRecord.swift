import GRDB
import Protocol

/// A row of `output_assets`: a data asset a run registered (a step output with `name:`).
public struct OutputAssetRecord: Codable, Hashable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "output_assets"

    /// Column names (snake_case in SQL).
    enum CodingKeys: String, CodingKey {
        case name
        case version
        case type
        case digest
        case runID = "run_id"
        case step
        case output
        case createdAt = "created_at"
    }

    public var name: String
    public var version: String
    public var type: String
    public var digest: String
    public var runID: String
    public var step: String
    public var output: String
    public var createdAt: Int64

    public init(_ asset: OutputAsset) {
        name = asset.name
        version = asset.version
        type = asset.type
        digest = asset.digest
        runID = asset.runID
        step = asset.step
        output = asset.output
        createdAt = asset.createdAt
    }

    /// The API's form.
    public var asset: OutputAsset {
        OutputAsset(name: name, version: version, type: type, digest: digest, runID: runID, step: step, output: output, createdAt: createdAt)
    }
}
