import Foundation

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
    /// Non-fatal findings.
    public var warnings: [String]

    /// Reads and validates `file` as a command component to register.
    ///
    /// Pipeline components are refused (their steps' component files would have to be bundled too).
    /// - Throws: `SpecError` naming file, line and field.
    public static func load(file: String) throws(SpecError) -> ComponentDefinition {
        let path = PathResolver.absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            guard let root = try YAMLDocument.load(file: path), root.isMapping else {
                throw SpecError(.invalidType, file: path, message: "expected a component (a mapping with name:, command: ...)")
            }
            let entries = try root.entries()
            if let type = entries["type"], try type.string() == "pipeline" {
                throw type.error(
                    .notSupported,
                    "registering pipeline components is not supported yet; register each command component it uses and reference them as azureml:NAME:VERSION"
                )
            }
            guard let nameNode = entries["name"], !nameNode.isNull else {
                throw root.error(.missingField, "a registered component needs name: (a lowercase letter, then lowercase letters, digits and _)")
            }
            let name = try nameNode.string(expecting: "a name")
            if let problem = RegistryIndex.problem(withName: name, kind: .component) {
                throw nameNode.error(.invalidName, problem)
            }
            var version: String?
            if let versionNode = entries["version"], !versionNode.isNull {
                let text = try versionNode.string(expecting: "a version")
                if let problem = RegistryIndex.problem(withVersion: text) {
                    throw versionNode.error(.invalidName, problem)
                }
                version = text
            }
            var reader = SpecReader()
            let component = try reader.readCommandComponentDefinition(root, baseDirectory: PathResolver.directory(of: path))
            return ComponentDefinition(
                file: path, name: name, version: version, displayName: component.displayName,
                description: try entries["description"].flatMap { $0.isNull ? nil : try $0.string() },
                codeDirectory: component.codeDirectory, warnings: reader.warnings
            )
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
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
    /// - Throws: `SpecError` naming file, line and field.
    public static func load(file: String) throws(SpecError) -> DataAssetDefinition {
        let path = PathResolver.absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            guard let root = try YAMLDocument.load(file: path), root.isMapping else {
                throw SpecError(.invalidType, file: path, message: "expected a data asset (a mapping with name:, type: and path:)")
            }
            let entries = try root.entries()
            var reader = SpecReader()
            reader.warnUnknownKeys(entries, known: keys, in: root)
            guard let nameNode = entries["name"], !nameNode.isNull else {
                throw root.error(.missingField, "a data asset needs name:")
            }
            let name = try nameNode.string(expecting: "a name")
            if let problem = RegistryIndex.problem(withName: name, kind: .data) {
                throw nameNode.error(.invalidName, problem)
            }
            var version: String?
            if let versionNode = entries["version"], !versionNode.isNull {
                let text = try versionNode.string(expecting: "a version")
                if let problem = RegistryIndex.problem(withVersion: text) {
                    throw versionNode.error(.invalidName, problem)
                }
                version = text
            }
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
