import Protocol
import Spec

/// What registering a completed step's output as a data asset does, given the versions runs have
/// registered so far. Pure.
///
/// - A version that is given and exists with the same content: nothing changes (a re-run or a
///   reused step registers the same bytes again).
/// - A version that is given and exists with other content: refused (a version never changes).
/// - No version given: the latest version stands when it holds the same content; otherwise one
///   more than the largest integer version is created.
public enum OutputRegistration {
    public enum Decision: Hashable, Sendable {
        case create(version: String)
        case unchanged(version: String)
        case conflict(version: String, suggestion: String)
    }

    public static func decide(_ index: RegistryIndex, asset: OutputAssetName, digest: String) -> Decision {
        if asset.version == nil, let latest = index.latest(of: asset.name), latest.digest == digest {
            return .unchanged(version: latest.version)
        }
        switch index.decideCreate(name: asset.name, version: asset.version, digest: digest) {
        case .create(let version): return .create(version: version)
        case .unchanged(let version): return .unchanged(version: version)
        case .conflict(let version, let suggestion): return .conflict(version: version, suggestion: suggestion)
        }
    }

    /// The index `assets` make, for `decide` and for resolving `azureml:NAME:VERSION` and
    /// `azureml:NAME@latest` with the registry's rules.
    public static func index(of assets: [OutputAsset]) -> RegistryIndex {
        RegistryIndex(assets.map(record(of:)))
    }

    /// `asset` as a registry record (`source` names the producing step).
    public static func record(of asset: OutputAsset) -> RegisteredAsset {
        RegisteredAsset(
            kind: .data, name: asset.name, version: asset.version, createdAt: asset.createdAt, digest: asset.digest,
            dataType: DataType(rawValue: asset.type), source: "run \(asset.runID) step \(asset.step) output \(asset.output)"
        )
    }
}
