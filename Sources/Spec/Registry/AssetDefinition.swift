import Foundation
import Yams

/// A component file checked for registration: a valid command component with a valid name.
public struct ComponentDefinition: Hashable, Sendable {
    /// Absolute path of the component file.
    public var file: String
    public var name: String
    /// `version:` of the file, when it has one.
    public var version: String?
    public var displayName: String?
    public var description: String?
    /// Absolute `code:` directory, when the component has one.
    public var codeDirectory: String?
    /// Whether this is a pipeline component (`type: pipeline`).
    public var isPipeline: Bool
    /// Files and folders the environment names (`conda_file`, `build.path`), relative to the component's
    /// folder, to be registered beside the definition so they resolve from the registered copy too.
    public var environmentFiles: [String] = []
    /// Non-fatal findings.
    public var warnings: [String]
    /// The definition as registered when `--set` changed it (YAML text of the changed document);
    /// nil when the file is registered as it is.
    public var overriddenText: String?

    /// What a registered pipeline component must do without: it is stored alone, so nothing it names
    /// may be a path relative to it.
    static let standAloneAdvice = "a registered pipeline component is stored alone, so it cannot name local files or folders: "
        + "register the components it uses (conduit component create) and reference them as azureml:NAME:VERSION, "
        + "and give data as registered assets"

    /// Reads and validates `file` as a component to register.
    ///
    /// A command component is checked as a pipeline would read it. A pipeline component is read as if it
    /// were alone in a folder, with `registry` for its `azureml:` references: one that names a component
    /// file, a code folder or a data path beside it is refused, since the registry keeps only its file.
    ///
    /// `overrides` (`--set KEY=VALUE`, as `az ml component create --set`) change the document first, as
    /// a pipeline's `--set` does (`OverrideApplier`); the changed document is what is checked and
    /// registered (`overriddenText`).
    /// - Throws: `SpecError` naming file, line and field.
    public static func load(file: String, registry: LocalRegistry? = nil, overrides: [String] = []) throws(SpecError) -> ComponentDefinition {
        let path = PathResolver.absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            let (document, overriddenText) = try loadAssetDocument(path, overrides: overrides)
            guard let root = document, root.isMapping else {
                throw SpecError(.invalidType, file: path, message: "expected a component (a mapping with name:, command: ...)")
            }
            let entries = try root.entries()
            let isPipeline = try entries["type"].map { $0.isNull ? false : try $0.string() == "pipeline" } ?? false
            let (name, version) = try readNameAndVersion(
                entries, of: .component, in: root,
                missing: "a registered component needs name: (a lowercase letter, then lowercase letters, digits and _)"
            )
            let description = try entries["description"].flatMap { $0.isNull ? nil : try $0.string() }
            let displayName = try entries["display_name"].flatMap { $0.isNull ? nil : try $0.string() }
            var reader = SpecReader()
            reader.assets = AssetResolver(registry: registry)
            if isPipeline {
                try checkStandsAlone(path, text: overriddenText, root: root, reader: &reader)
                return ComponentDefinition(
                    file: path, name: name, version: version, displayName: displayName, description: description,
                    codeDirectory: nil, isPipeline: true, warnings: reader.warnings, overriddenText: overriddenText
                )
            }
            let component = try reader.readCommandComponentDefinition(root, baseDirectory: PathResolver.directory(of: path))
            var definition = ComponentDefinition(
                file: path, name: name, version: version, displayName: component.displayName, description: description,
                codeDirectory: component.codeDirectory, isPipeline: false, warnings: [], overriddenText: overriddenText
            )
            if let environment = entries["environment"], environment.isMapping {
                definition.environmentFiles = try environmentFiles(environment, componentFile: path, warnings: &reader.warnings)
            }
            definition.warnings = reader.warnings
            return definition
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
    }
}

extension ComponentDefinition {
    /// The local files an inline environment names, relative to the component's folder; paths outside
    /// that folder (or where the registry keeps its own files) cannot be registered with it: warned about.
    static func environmentFiles(_ environment: SourceNode, componentFile: String, warnings: inout [String]) throws(SpecError) -> [String] {
        let entries = try environment.entries()
        var nodes: [SourceNode] = []
        if let conda = entries["conda_file"], !conda.isNull, !conda.isMapping { nodes.append(conda) }
        if let build = entries["build"], build.isMapping, let buildPath = try build.entries()["path"], !buildPath.isNull { nodes.append(buildPath) }
        let directory = PathResolver.directory(of: componentFile)
        let reserved: Set<String> = ["code", LocalRegistry.recordFileName, (componentFile as NSString).lastPathComponent]
        var files: [String] = []
        for node in nodes {
            let text = try node.string(expecting: "a path")
            if PathResolver.isRemote(text) || text.lowercased().hasPrefix("git+") { continue }
            let absolute = PathResolver.absolute(PathResolver.strippingFileScheme(text), relativeTo: directory)
            guard absolute.hasPrefix(directory + "/") else {
                warnings.append(node.warning("'\(text)' is outside the component's folder, so it is not registered with the component; move it beside the component file to register it"))
                continue
            }
            let relative = String(absolute.dropFirst(directory.count + 1))
            guard let first = relative.split(separator: "/").first, !reserved.contains(String(first)) else {
                warnings.append(node.warning("'\(text)' clashes with a name the registry uses (code, asset.json, the component file); it is not registered with the component"))
                continue
            }
            guard FileManager.default.fileExists(atPath: absolute) else {
                warnings.append(node.warning("'\(text)' does not exist (looked for \(absolute)); nothing is registered for it"))
                continue
            }
            if !files.contains(relative) { files.append(relative) }
        }
        return files
    }

    /// Reads the pipeline component at `path` (or `text`, its content changed by `--set`) from a copy
    /// alone in a temporary folder, so that anything it names beside itself fails to resolve; errors
    /// are reported against `path`.
    static func checkStandsAlone(_ path: String, text: String?, root: SourceNode, reader: inout SpecReader) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("conduit-component-\(UUID().uuidString)").path
        let copy = folder + "/" + (path as NSString).lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            if let text {
                try Data(text.utf8).write(to: URL(fileURLWithPath: copy))
            } else {
                try FileManager.default.copyItem(atPath: path, toPath: copy)
            }
        } catch {
            throw SpecError(.unreadableFile, file: path, message: "cannot stage the component for checking: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            _ = try reader.readPipelineComponentFile(copy, at: root)
        } catch var error as SpecError {
            if error.file == copy {
                error.file = path
                if error.code == .fileNotFound || error.message.contains(folder) {
                    // "the code directory './src' does not exist (looked for ...)": the path exists beside
                    // the original, but would not beside the registered copy.
                    let named = error.message.components(separatedBy: " does not exist").first ?? error.message
                    error.code = .notSupported
                    error.message = "\(named.replacingOccurrences(of: folder, with: PathResolver.directory(of: path))) is a local path; \(standAloneAdvice)"
                }
            }
            reader.warnings = reader.warnings.map { $0.replacingOccurrences(of: copy, with: path) }
            throw error
        }
        reader.warnings = reader.warnings.map { $0.replacingOccurrences(of: copy, with: path) }
    }
}

/// A data asset file (`data.yml`) checked for registration.
public struct DataAssetDefinition: Hashable, Sendable {
    /// Keys of a data asset file.
    static let keys: Set<String> = ["$schema", "name", "version", "type", "path", "description", "tags", "properties"]

    /// Absolute path of the data asset file.
    public var file: String
    public var name: String
    public var version: String?
    public var type: DataType
    /// Absolute local path of the content (a file for `uri_file`, else a folder).
    public var path: String
    public var description: String?
    public var warnings: [String]

    /// Reads and validates `file`: `name`, `path` (relative to the file) and `type` (`uri_file`,
    /// `uri_folder` or `mltable`; `uri_folder` when absent) are checked against what is on disk.
    /// `overrides` (`--set KEY=VALUE`, as `az ml data create --set`) change the document first.
    /// - Throws: `SpecError` naming file, line and field.
    public static func load(file: String, overrides: [String] = []) throws(SpecError) -> DataAssetDefinition {
        let path = PathResolver.absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            guard let root = try loadAssetDocument(path, overrides: overrides).root, root.isMapping else {
                throw SpecError(.invalidType, file: path, message: "expected a data asset (a mapping with name:, type: and path:)")
            }
            let entries = try root.entries()
            var reader = SpecReader()
            reader.warnUnknownKeys(entries, known: keys, in: root)
            let (name, version) = try readNameAndVersion(entries, of: .data, in: root, missing: "a data asset needs name:")
            var type = DataType.uriFolder
            if let typeNode = entries["type"], !typeNode.isNull {
                let text = try typeNode.string()
                guard let parsed = DataType(rawValue: text), [.uriFile, .uriFolder, .mltable].contains(parsed) else {
                    throw typeNode.error(.invalidEnum, "data asset type '\(text)' is not valid; expected uri_file, uri_folder or mltable")
                }
                type = parsed
            }
            guard let pathNode = entries["path"], !pathNode.isNull else {
                throw root.error(.missingField, "a data asset needs path: (a local file or folder, relative to this file)")
            }
            let text = try pathNode.string(expecting: "a path")
            if PathResolver.isRemote(text) {
                throw pathNode.error(.notSupported, "path '\(text)' is remote; Conduit registers local files and folders, whose content it snapshots")
            }
            let content = PathResolver.absolute(PathResolver.strippingFileScheme(text), relativeTo: PathResolver.directory(of: path))
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: content, isDirectory: &isDirectory) else {
                throw pathNode.error(.fileNotFound, "the data path '\(text)' does not exist (looked for \(content))")
            }
            if type == .uriFile, isDirectory.boolValue {
                throw pathNode.error(.invalidType, "type is uri_file but '\(text)' is a folder; use type: uri_folder")
            }
            if type != .uriFile, !isDirectory.boolValue {
                throw pathNode.error(.invalidType, "type is \(type.rawValue) but '\(text)' is a file; use type: uri_file")
            }
            if type == .mltable, !FileManager.default.fileExists(atPath: content + "/MLTable") {
                throw pathNode.error(.fileNotFound, "an mltable asset's folder needs an MLTable file (looked for \(content)/MLTable)")
            }
            return DataAssetDefinition(
                file: path, name: name, version: version, type: type, path: content,
                description: try entries["description"].flatMap { $0.isNull ? nil : try $0.string() }, warnings: reader.warnings
            )
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
    }
}

/// `name:` (required, checked against the registry's naming rule for `kind`) and `version:`
/// (optional, checked) of an asset definition.
func readNameAndVersion(
    _ entries: [(key: String, value: SourceNode)], of kind: AssetKind, in root: SourceNode, missing: String
) throws(SpecError) -> (name: String, version: String?) {
    guard let nameNode = entries["name"], !nameNode.isNull else {
        throw root.error(.missingField, missing)
    }
    let name = try nameNode.string(expecting: "a name")
    if let problem = RegistryIndex.problem(withName: name, kind: kind) {
        throw nameNode.error(.invalidName, problem)
    }
    guard let versionNode = entries["version"], !versionNode.isNull else { return (name, nil) }
    let text = try versionNode.string(expecting: "a version")
    if let problem = RegistryIndex.problem(withVersion: text) {
        throw versionNode.error(.invalidName, problem)
    }
    return (name, text)
}

/// The document of the asset file `path` with `overrides` (`--set KEY=VALUE`) applied, and, when
/// there were any, the changed document as YAML text (comments are not kept).
func loadAssetDocument(_ path: String, overrides: [String]) throws -> (root: SourceNode?, text: String?) {
    guard var root = try YAMLDocument.load(file: path) else {
        if overrides.isEmpty { return (nil, nil) }
        throw SpecError(.invalidType, file: path, message: "the file is empty, so --set has nothing to change")
    }
    guard !overrides.isEmpty else { return (root, nil) }
    try OverrideApplier.apply(overrides, to: &root.node, file: path)
    do {
        return (root, try Yams.serialize(node: plainlyTagged(root.node)))
    } catch {
        throw SpecError(.syntax, file: path, message: "the file changed by --set cannot be written back as YAML: \(error)")
    }
}

/// `node` with the default tags of mappings and sequences, so that writing it out adds no explicit
/// `!!map` or `!!seq` (mappings `--set` created have none).
private func plainlyTagged(_ node: Node) -> Node {
    switch node {
    case .mapping(var mapping):
        mapping.tag = Tag(.map)
        for index in mapping.indices {
            mapping[index] = (plainlyTagged(mapping[index].key), plainlyTagged(mapping[index].value))
        }
        return .mapping(mapping)
    case .sequence(var sequence):
        sequence.tag = Tag(.seq)
        for index in sequence.indices { sequence[index] = plainlyTagged(sequence[index]) }
        return .sequence(sequence)
    case .scalar, .alias:
        return node
    }
}
