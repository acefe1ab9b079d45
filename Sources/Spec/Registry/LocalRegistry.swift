import Foundation

/// A registry on disk: Conduit's stand-in for an Azure ML workspace's assets and for named registries.
///
/// Layout under `root`:
/// ```
/// workspace/components/NAME/VERSION/{asset.json, DEFINITION.yml, code/}
/// workspace/data/NAME/VERSION/{asset.json, content/}
/// registries/REGISTRY/components/NAME/VERSION/...
/// registries/REGISTRY/data/NAME/VERSION/...
/// ```
/// A version folder is complete once it exists: writers build it elsewhere and rename it into place.
/// This type only reads; `conduit component create` and `conduit data create` write.
public struct LocalRegistry: Hashable, Sendable {
    /// Absolute path of the registry's root folder.
    public var root: String

    public init(root: String) {
        self.root = root
    }

    /// The name of each version's record file.
    public static let recordFileName = "asset.json"

    /// The folder holding every asset of `kind` in `scope`.
    public func directory(of kind: AssetKind, in scope: AssetReference.Scope) -> String {
        switch scope {
        case .workspace: "\(root)/workspace/\(kind.pathComponent)"
        case .registry(let name): "\(root)/registries/\(name)/\(kind.pathComponent)"
        }
    }

    /// The folder of one version (which may not exist). `name` and `version` must be valid (see
    /// ``RegistryIndex/problem(withName:kind:)``), so that they cannot climb out of the registry.
    public func directory(of kind: AssetKind, in scope: AssetReference.Scope, name: String, version: String) -> String {
        "\(directory(of: kind, in: scope))/\(name)/\(version)"
    }

    /// Names of the named registries that exist, sorted.
    public func registryNames() -> [String] {
        Self.subdirectories(of: "\(root)/registries")
    }

    /// Why `name` cannot name a registry, or nil.
    public static func problem(withRegistryName name: String) -> String? {
        let valid = !name.isEmpty && name.utf8.count <= 64 && name.first!.isASCII && name.first!.isLetter
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        return valid ? nil : "registry name '\(name)' must be a letter followed by letters, digits, - or _ (at most 64)"
    }

    /// A problem reading the registry (an unreadable or malformed record).
    public struct ReadError: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Every version of every asset of `kind` in `scope`; an absent folder is an empty index.
    public func index(of kind: AssetKind, in scope: AssetReference.Scope) throws(ReadError) -> RegistryIndex {
        let base = directory(of: kind, in: scope)
        var index = RegistryIndex()
        for name in Self.subdirectories(of: base) {
            for version in Self.subdirectories(of: "\(base)/\(name)") {
                let file = "\(base)/\(name)/\(version)/\(Self.recordFileName)"
                guard FileManager.default.fileExists(atPath: file) else { continue }
                let record: RegisteredAsset
                do {
                    record = try JSONDecoder().decode(RegisteredAsset.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
                } catch {
                    throw ReadError(message: "the registry record \(file) cannot be read: \(error)")
                }
                guard record.name == name, record.version == version, record.kind == kind else {
                    throw ReadError(message: "the registry record \(file) names \(record.kind.rawValue) \(record.name):\(record.version), not its folder \(name)/\(version)")
                }
                index.insert(record)
            }
        }
        return index
    }

    /// Names of the folders directly in `path`, sorted (hidden ones and staging folders left out).
    static func subdirectories(of path: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: "\(path)/\(name)", isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }
}
