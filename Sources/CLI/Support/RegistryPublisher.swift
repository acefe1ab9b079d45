import Artifacts
import Foundation
import Spec

/// Writes component and data asset versions into a `LocalRegistry`: snapshots the content, builds the
/// version folder beside its final place, and renames it in, so a version folder is always complete.
/// The decisions (which version, unchanged or conflicting) are `RegistryIndex`'s.
enum RegistryPublisher {
    /// What a registration did.
    struct Outcome {
        var asset: RegisteredAsset
        /// The reference that names this version in a pipeline.
        var reference: AssetReference
        /// False when the version already held identical content.
        var created: Bool
    }

    /// Registers the component file `file`, changed by `overrides` (`--set KEY=VALUE`) when there
    /// are any; `version` wins over the file's `version:`, which wins over the next integer version.
    static func publishComponent(
        file: String, overrides: [String] = [], version: String?, scope: AssetReference.Scope, registry: LocalRegistry, now: Int64
    ) throws -> Outcome {
        let definition: ComponentDefinition
        do {
            definition = try ComponentDefinition.load(file: file, registry: registry, overrides: overrides)
        } catch {
            throw CLIError("error: \(error)")
        }
        for warning in definition.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let definitionName = (definition.file as NSString).lastPathComponent
        let definitionBytes = try definition.overriddenText.map { Data($0.utf8) } ?? readFile(definition.file)
        let code = try definition.codeDirectory.map { directory in
            try artifact("snapshot the code folder \(directory)") { () throws(ArtifactError) in try Snapshot.folder(at: directory, store: nil) }
        }
        let directory = (definition.file as NSString).deletingLastPathComponent
        let environment = try definition.environmentFiles.map { relative in
            (relative, try snapshot(directory + "/" + relative, what: "the environment's \(relative)"))
        }
        let digest = componentDigest(definition: definitionBytes, code: code, environment: environment)
        return try publish(
            kind: .component, name: definition.name, version: version ?? definition.version, digest: digest,
            scope: scope, registry: registry
        ) { staging in
            try definitionBytes.write(to: URL(fileURLWithPath: "\(staging)/\(definitionName)"))
            var codeFolder: String?
            var storedCode: TreeManifest?
            if let codeSource = definition.codeDirectory {
                storedCode = try copy(folder: codeSource, honoringIgnoreFiles: true, to: "\(staging)/code", scratch: staging)
                codeFolder = "code"
            }
            var storedEnvironment: [(String, TreeManifest)] = []
            for (relative, manifest) in environment {
                let source = directory + "/" + relative
                let stored = manifest.kind == .file
                    ? try copy(file: source, to: "\(staging)/\(relative)", scratch: staging)
                    : try copy(folder: source, honoringIgnoreFiles: false, to: "\(staging)/\(relative)", scratch: staging)
                storedEnvironment.append((relative, stored))
            }
            let storedDigest = componentDigest(definition: definitionBytes, code: storedCode, environment: storedEnvironment)
            return RegisteredAsset(
                kind: .component, name: definition.name, version: "", createdAt: now, digest: storedDigest,
                description: definition.description ?? definition.displayName, definitionFile: definitionName,
                codeDirectory: codeFolder, source: definition.file
            )
        }
    }

    /// Registers the data asset file `file` (`name`, `type`, `path`, ...), changed by `overrides`
    /// (`--set KEY=VALUE`) when there are any: the content is copied whole.
    static func publishData(
        file: String, overrides: [String] = [], version: String?, scope: AssetReference.Scope, registry: LocalRegistry, now: Int64
    ) throws -> Outcome {
        let definition: DataAssetDefinition
        do {
            definition = try DataAssetDefinition.load(file: file, overrides: overrides)
        } catch {
            throw CLIError("error: \(error)")
        }
        for warning in definition.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let isFile = definition.type == .uriFile
        let manifest = try artifact("snapshot \(definition.path)") { () throws(ArtifactError) in
            isFile ? try Snapshot.file(at: definition.path, store: nil)
                : try Snapshot.folder(at: definition.path, store: nil, honoringIgnoreFiles: false)
        }
        return try publish(
            kind: .data, name: definition.name, version: version ?? definition.version, digest: manifest.digest.hex,
            scope: scope, registry: registry
        ) { staging in
            let content: String
            let stored: TreeManifest
            if isFile {
                content = "content/" + (definition.path as NSString).lastPathComponent
                stored = try copy(file: definition.path, to: "\(staging)/\(content)", scratch: staging)
            } else {
                content = "content"
                stored = try copy(folder: definition.path, honoringIgnoreFiles: false, to: "\(staging)/content", scratch: staging)
            }
            return RegisteredAsset(
                kind: .data, name: definition.name, version: "", createdAt: now, digest: stored.digest.hex,
                description: definition.description, dataType: definition.type, contentPath: content, source: definition.path
            )
        }
    }

    /// Decides, then (for a new version) fills a staging folder with `fill` and renames it into place.
    private static func publish(
        kind: AssetKind, name: String, version: String?, digest: String, scope: AssetReference.Scope,
        registry: LocalRegistry, fill: (String) throws -> RegisteredAsset
    ) throws -> Outcome {
        if let version, let problem = RegistryIndex.problem(withVersion: version) {
            throw CLIError("error: --version: \(problem)")
        }
        let index = try readIndex(kind, scope, registry)
        let reference = { (version: String) in AssetReference(kind: kind, scope: scope, name: name, selector: .version(version)) }
        switch index.decideCreate(name: name, version: version, digest: digest) {
        case .unchanged(let existing):
            let asset = index.versions(of: name).first { $0.version == existing }!
            return Outcome(asset: asset, reference: reference(existing), created: false)
        case .conflict(let existing, let suggestion):
            throw conflict(kind: kind, name: name, version: existing, suggestion: suggestion)
        case .create(let chosen):
            let base = registry.directory(of: kind, in: scope)
            let staging = "\(base)/.staging-\(UUID().uuidString)"
            let final = registry.directory(of: kind, in: scope, name: name, version: chosen)
            do {
                try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: "\(base)/\(name)", withIntermediateDirectories: true)
            } catch {
                throw CLIError("error: cannot write to the registry \(registry.root): \(error.localizedDescription)")
            }
            defer { try? FileManager.default.removeItem(atPath: staging) }
            var asset = try fill(staging)
            asset.version = chosen
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            try encoder.encode(asset).write(to: URL(fileURLWithPath: "\(staging)/\(LocalRegistry.recordFileName)"))
            // rename(2) refuses to replace a non-empty folder: a version another writer just created wins.
            guard rename(staging, final) == 0 else {
                let raced = try readIndex(kind, scope, registry).versions(of: name).first { $0.version == chosen }
                if let raced, raced.digest == asset.digest {
                    return Outcome(asset: raced, reference: reference(chosen), created: false)
                }
                if raced != nil {
                    throw conflict(kind: kind, name: name, version: chosen, suggestion: try readIndex(kind, scope, registry).nextVersion(of: name))
                }
                throw CLIError("error: cannot move the new version into \(final): \(String(cString: strerror(errno)))")
            }
            return Outcome(asset: asset, reference: reference(chosen), created: true)
        }
    }

    private static func conflict(kind: AssetKind, name: String, version: String, suggestion: String) -> CLIError {
        CLIError(
            "error: \(kind.rawValue) \(name) version \(version) is already registered with different content; a registered version never changes: register the new content as another version (e.g. --version \(suggestion))"
        )
    }

    static func readIndex(_ kind: AssetKind, _ scope: AssetReference.Scope, _ registry: LocalRegistry) throws -> RegistryIndex {
        do {
            return try registry.index(of: kind, in: scope)
        } catch {
            throw CLIError("error: \(error.message)")
        }
    }

    /// A component's digest: its definition's bytes, its code snapshot and the environment's files.
    private static func componentDigest(definition: Data, code: TreeManifest?, environment: [(String, TreeManifest)]) -> String {
        var text = "conduit-component-v1\n\(SHA256Hasher.digest(of: definition).hex)\n\(code?.digest.hex ?? "-")\n"
        for (relative, manifest) in environment { text += "\(relative)=\(manifest.digest.hex)\n" }
        return SHA256Hasher.digest(ofUTF8: text).hex
    }

    private static func snapshot(_ path: String, what: String) throws -> TreeManifest {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        return try artifact("snapshot \(what)") { () throws(ArtifactError) in
            isDirectory.boolValue ? try Snapshot.folder(at: path, store: nil, honoringIgnoreFiles: false) : try Snapshot.file(at: path, store: nil)
        }
    }

    /// Copies `folder` (as a snapshot: ignore rules, links resolved inside it) to `destination`.
    private static func copy(folder: String, honoringIgnoreFiles: Bool, to destination: String, scratch: String) throws -> TreeManifest {
        try artifact("copy \(folder) into the registry") { () throws(ArtifactError) in
            let store = try BlobStore(root: "\(scratch)/.blobs")
            let manifest = try Snapshot.folder(at: folder, store: store, honoringIgnoreFiles: honoringIgnoreFiles)
            try Snapshot.materialize(manifest, from: store, at: destination, linking: false)
            try? FileManager.default.removeItem(atPath: "\(scratch)/.blobs")
            return manifest
        }
    }

    private static func copy(file: String, to destination: String, scratch: String) throws -> TreeManifest {
        try artifact("copy \(file) into the registry") { () throws(ArtifactError) in
            let store = try BlobStore(root: "\(scratch)/.blobs")
            let manifest = try Snapshot.file(at: file, store: store)
            try Snapshot.materialize(manifest, from: store, at: destination, linking: false)
            try? FileManager.default.removeItem(atPath: "\(scratch)/.blobs")
            return manifest
        }
    }

    private static func artifact<T>(_ what: String, _ body: () throws(ArtifactError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw CLIError("error: cannot \(what): \(error)")
        }
    }

    private static func readFile(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIError("error: cannot read \(path): \(error.localizedDescription)")
        }
    }
}
