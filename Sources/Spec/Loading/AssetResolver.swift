import Foundation

/// Resolves `azureml:` references to registered components and data assets while a pipeline is read,
/// turning each failure into a `SpecError` at the reference.
struct AssetResolver {
    /// The registry references resolve in; nil when the caller gave none (then component references
    /// are refused and data references pass through as URIs, as before registries existed).
    var registry: LocalRegistry?
    /// Indexes read so far, shared by the copies of this resolver that one load makes (reader and
    /// builder): a pipeline with many references reads each namespace of the registry once.
    private let indexes = IndexCache()

    /// The data assets runs registered, when the caller knows them (see `PipelineLoader.Options`).
    var producedData: RegistryIndex?

    init(registry: LocalRegistry? = nil, producedData: RegistryIndex? = nil) {
        self.registry = registry
        self.producedData = producedData
    }

    /// Indexes by kind and namespace. Only used by one load, on one thread.
    private final class IndexCache {
        var byNamespace: [String: RegistryIndex] = [:]
    }

    /// A registered command component, ready to read.
    struct Component {
        /// The registered definition file.
        var definitionFile: String
        /// The registered snapshot of its `code:`, when it has one.
        var codeDirectory: String?
        /// The resolved reference at its definite version (`azureml:train:2`).
        var reference: String
    }

    /// The registered component `text` names, or nil when `text` is not an `azureml:` reference.
    func component(_ text: String, at location: SourceNode) throws(SpecError) -> Component? {
        switch AssetReference.parse(text, kind: .component) {
        case .notAReference:
            if text.lowercased().hasPrefix("azureml:") {
                throw location.error(
                    .notSupported, "'\(text)' is not a component reference Conduit resolves; use azureml:NAME:VERSION, azureml:NAME@latest or azureml://registries/REGISTRY/components/NAME/versions/VERSION"
                )
            }
            return nil
        case .invalid(let message):
            throw location.error(.invalidType, message)
        case .reference(let reference):
            let (asset, directory) = try resolve(reference, at: location)
            guard let definition = asset.definitionFile else {
                throw location.error(.unknownAsset, "the registry record of \(reference.at(version: asset.version)) names no definition file (\(directory))")
            }
            return Component(
                definitionFile: "\(directory)/\(definition)",
                codeDirectory: asset.codeDirectory.map { "\(directory)/\($0)" },
                reference: reference.at(version: asset.version).description
            )
        }
    }

    /// A data path as a `DataSource` and, for a registered data asset, its type: `azureml:NAME:VERSION`,
    /// `azureml:NAME@latest` and registry data URIs become the registered content's local path; anything
    /// else is read by `PathResolver.dataSource`. A workspace data reference to a name the registry
    /// does not hold stays a URI: the coordinator resolves it among the outputs runs registered.
    func dataSource(_ text: String, relativeTo directory: String, at location: SourceNode) throws(SpecError) -> (source: DataSource, type: DataType?) {
        guard registry != nil else {
            return (try PathResolver.dataSource(text, relativeTo: directory, at: location), nil)
        }
        switch AssetReference.parse(text, kind: .data) {
        case .notAReference:
            return (try PathResolver.dataSource(text, relativeTo: directory, at: location), nil)
        case .invalid(let message):
            throw location.error(.invalidType, message)
        case .reference(let reference):
            if case .workspace = reference.scope, let registry {
                let local = try workspaceData(in: registry, at: location)
                if local.versions(of: reference.name).isEmpty {
                    // Not registered here: it may be an output a run registered, which the coordinator
                    // resolves at submission, by content. Checked now when the caller knows those.
                    if let producedData, case .failure(let failure) = producedData.resolve(reference.name, reference.selector, kind: .data) {
                        let names = local.names + producedData.names.filter { !local.names.contains($0) }
                        let known = producedData.names.contains(reference.name) ? failure.message
                            : "no data asset named '\(reference.name)' (\(names.isEmpty ? "none is registered" : "registered: " + names.joined(separator: ", ")))"
                        throw location.error(.unknownAsset, "\(known) in the registry \(registry.root) or among the outputs runs registered")
                    }
                    return (.uri(text), nil)
                }
            }
            let (asset, folder) = try resolve(reference, at: location)
            guard let content = asset.contentPath else {
                throw location.error(.unknownAsset, "the registry record of \(reference.at(version: asset.version)) names no content (\(folder))")
            }
            let path = "\(folder)/\(content)"
            guard FileManager.default.fileExists(atPath: path) else {
                throw location.error(.fileNotFound, "the content of \(reference.at(version: asset.version)) is missing from the registry (looked for \(path))")
            }
            return (.localPath(path), asset.dataType)
        }
    }

    /// Whether the local registry's workspace has a data asset named `name` (outputs registered by
    /// runs may not take such a name: a reference to it would be ambiguous).
    func hasLocalData(named name: String, at location: SourceNode) throws(SpecError) -> Bool {
        guard let registry else { return false }
        return try !workspaceData(in: registry, at: location).versions(of: name).isEmpty
    }

    /// The workspace's data index, read once per load.
    private func workspaceData(in registry: LocalRegistry, at location: SourceNode) throws(SpecError) -> RegistryIndex {
        let namespace = registry.directory(of: .data, in: .workspace)
        if let cached = indexes.byNamespace[namespace] { return cached }
        do {
            let index = try registry.index(of: .data, in: .workspace)
            indexes.byNamespace[namespace] = index
            return index
        } catch {
            throw location.error(.unknownAsset, error.message)
        }
    }

    /// The record and version folder `reference` picks.
    private func resolve(_ reference: AssetReference, at location: SourceNode) throws(SpecError) -> (RegisteredAsset, String) {
        guard let registry else {
            throw location.error(
                .notSupported, "'\(reference)' names a registered \(reference.kind.rawValue) asset, but no registry was given (use --registry DIR or $CONDUIT_REGISTRY)"
            )
        }
        if case .registry(let name) = reference.scope {
            if let problem = LocalRegistry.problem(withRegistryName: name) {
                throw location.error(.invalidName, problem)
            }
            let known = registry.registryNames()
            guard known.contains(name) else {
                let list = known.isEmpty ? "none exists" : "registries: \(known.joined(separator: ", "))"
                throw location.error(.unknownAsset, "no registry named '\(name)' in \(registry.root) (\(list))")
            }
        }
        let namespace = registry.directory(of: reference.kind, in: reference.scope)
        let index: RegistryIndex
        if let cached = indexes.byNamespace[namespace] {
            index = cached
        } else {
            do {
                index = try registry.index(of: reference.kind, in: reference.scope)
            } catch {
                throw location.error(.unknownAsset, error.message)
            }
            indexes.byNamespace[namespace] = index
        }
        switch index.resolve(reference.name, reference.selector, kind: reference.kind) {
        case .success(let asset):
            return (asset, registry.directory(of: reference.kind, in: reference.scope, name: asset.name, version: asset.version))
        case .failure(let failure):
            let place: String
            switch reference.scope {
            case .workspace: place = "the registry \(registry.root)"
            case .registry(let name): place = "registry '\(name)' (\(registry.root))"
            }
            throw location.error(.unknownAsset, "\(failure.message) in \(place)")
        }
    }
}
