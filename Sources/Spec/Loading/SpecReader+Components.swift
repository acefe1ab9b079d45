import Foundation

/// Reading component definitions: command components and pipeline components.
extension SpecReader {
    /// Keys of a command component.
    static let commandComponentKeys: Set<String> = [
        "$schema", "type", "name", "version", "display_name", "description", "tags", "is_deterministic", "inputs",
        "outputs", "command", "code", "environment", "resources", "distribution", "additional_includes",
        "properties", "id", "creation_context", "is_anonymous", "instance_count",
    ]
    /// Keys of a pipeline component.
    static let pipelineComponentKeys: Set<String> = [
        "$schema", "type", "name", "version", "display_name", "description", "tags", "inputs", "outputs", "jobs",
        "properties", "id", "creation_context", "is_deterministic",
    ]
    /// Keys of an input declaration.
    static let inputDeclarationKeys: Set<String> = [
        "type", "description", "optional", "default", "min", "max", "enum", "mode", "path", "datastore",
        "path_on_compute",
    ]
    /// Keys of an output declaration.
    static let outputDeclarationKeys: Set<String> = [
        "type", "description", "mode", "path", "name", "version", "datastore", "early_available", "is_control",
    ]

    /// The command component `reference` names: a file path (optional `file:` prefix) relative to
    /// `baseDirectory`, or an inline dict.
    mutating func readCommandComponent(_ reference: SourceNode, baseDirectory: String) throws -> ComponentSpec {
        if reference.isMapping {
            return try readCommandComponentDefinition(reference, baseDirectory: baseDirectory)
        }
        let text = try reference.string(expecting: "a component file path")
        if let registered = try assets.component(text, at: reference) {
            return try cachedComponent(at: registered.definitionFile) { reader in
                guard let root = try YAMLDocument.load(file: registered.definitionFile) else {
                    throw SpecError(.missingCommand, file: registered.definitionFile, message: "the registered component file is empty")
                }
                var component = try reader.readCommandComponentDefinition(
                    root, baseDirectory: PathResolver.directory(of: registered.definitionFile),
                    registeredCode: .some(registered.codeDirectory)
                )
                component.registeredReference = registered.reference
                return component
            }
        }
        let path = try componentPath(reference, baseDirectory: baseDirectory)
        return try cachedComponent(at: path) { reader in
            guard let root = try YAMLDocument.load(file: path) else {
                throw SpecError(.missingCommand, file: path, message: "the component file is empty; a command component needs command:")
            }
            return try reader.readCommandComponentDefinition(root, baseDirectory: PathResolver.directory(of: path))
        }
    }

    /// The pipeline component file `reference` names.
    mutating func readPipelineComponent(_ reference: SourceNode, baseDirectory: String) throws -> PipelineSpec {
        guard !reference.isMapping else {
            throw reference.error(.notSupported, "a pipeline step must reference a pipeline component file; inline pipeline components are not allowed")
        }
        let text = try reference.string(expecting: "a component file path")
        let path = try assets.component(text, at: reference)?.definitionFile ?? componentPath(reference, baseDirectory: baseDirectory)
        return try readPipelineComponentFile(path, at: reference)
    }

    /// Reads the pipeline component file at `path` (absolute), used at `reference`.
    mutating func readPipelineComponentFile(_ path: String, at reference: SourceNode) throws -> PipelineSpec {
        try whileReadingPipeline(path, at: reference) { reader in
            guard let root = try YAMLDocument.load(file: path), root.isMapping else {
                throw SpecError(.invalidType, file: path, message: "expected a pipeline component (a mapping with type: pipeline)")
            }
            let entries = try root.entries()
            let type = try entries["type"].map { try $0.string() } ?? "command"
            guard type == "pipeline" else {
                throw (entries["type"] ?? root).error(
                    .invalidType, "a step with type: pipeline needs a pipeline component, but this component has type '\(type)'"
                )
            }
            reader.warnUnknownKeys(entries, known: Self.pipelineComponentKeys, in: root, ignored: IgnoredKeys.pipelineComponent)
            var spec = PipelineSpec(
                file: path, displayName: try entries["display_name"].map { try $0.string() }, experimentName: nil,
                settings: PipelineSettings(), compute: nil, inputValues: [], inputDeclarations: [], outputs: [],
                nodes: [], location: root
            )
            let directory = PathResolver.directory(of: path)
            if let inputs = entries["inputs"] {
                spec.inputDeclarations = try inputs.entriesOrEmpty().map { entry in
                    try reader.readInputDeclaration(name: entry.key, entry.value, baseDirectory: directory)
                }
            }
            if let outputs = entries["outputs"] {
                spec.outputs = try outputs.entriesOrEmpty().map { entry in
                    try reader.readOutputDeclaration(name: entry.key, entry.value, requireType: false)
                }
            }
            spec.nodes = try reader.readJobs(entries["jobs"], in: root, baseDirectory: directory)
            return spec
        }
    }

    private func componentPath(_ reference: SourceNode, baseDirectory: String) throws(SpecError) -> String {
        let text = try reference.string(expecting: "a component file path")
        let path = PathResolver.absolute(PathResolver.strippingFileScheme(text), relativeTo: baseDirectory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw reference.error(.fileNotFound, "the component file '\(text)' does not exist (looked for \(path))")
        }
        return path
    }

    /// Reads a command component's mapping (from its own file or inline). `registeredCode`, for a
    /// registered component, is where its `code:` snapshot lies in the registry (`.some(nil)`: it has none).
    mutating func readCommandComponentDefinition(
        _ root: SourceNode, baseDirectory: String, registeredCode: String?? = nil
    ) throws -> ComponentSpec {
        guard root.isMapping else {
            throw root.error(.invalidType, "expected a command component (a mapping), found \(root.shapeName)")
        }
        let entries = try root.entries()
        let type = try entries["type"].map { try $0.string() } ?? "command"
        switch type {
        case "command":
            break
        case "pipeline":
            throw (entries["type"] ?? root).error(
                .invalidType, "this is a pipeline component; use it from a step with type: pipeline"
            )
        default:
            throw (entries["type"] ?? root).error(
                .notSupported, "components of type '\(type)' are not supported yet; Conduit runs command components"
            )
        }
        warnUnknownKeys(entries, known: Self.commandComponentKeys, in: root, ignored: IgnoredKeys.commandComponent)
        if let includes = entries["additional_includes"], !includes.isNull {
            warnings.append(includes.warning("additional_includes is not supported yet and is ignored"))
        }
        var spec = ComponentSpec(
            file: root.file, displayName: try entries["display_name"].map { try $0.string() }, inputs: [], outputs: [],
            command: "", commandLocation: root, codeDirectory: try registeredCode ?? readCode(entries["code"], baseDirectory: baseDirectory),
            environment: try entries["environment"].map { $0.isNull ? "" : try CanonicalJSON.encode($0) } ?? "",
            isDeterministic: try entries["is_deterministic"].map { $0.isNull ? true : try $0.bool() } ?? true,
            declaresInputsByValue: false
        )
        spec.environmentSetup = try readEnvironment(entries["environment"], baseDirectory: baseDirectory)
        if let resources = entries["resources"] {
            spec.resources = try readResources(resources)
        }
        if let inputs = entries["inputs"] {
            spec.inputs = try inputs.entriesOrEmpty().map { entry in
                try readInputDeclaration(name: entry.key, entry.value, baseDirectory: baseDirectory)
            }
        }
        if let outputs = entries["outputs"] {
            spec.outputs = try outputs.entriesOrEmpty().map { entry in
                try readOutputDeclaration(name: entry.key, entry.value, requireType: false)
            }
        }
        guard let command = entries["command"], !command.isNull else {
            throw root.error(.missingCommand, "a command component needs command: (the shell command to run)")
        }
        spec.command = try command.string(expecting: "a command")
        spec.commandLocation = command
        return spec
    }

    // MARK: Declarations

    /// Reads one `inputs:` declaration of a component.
    mutating func readInputDeclaration(name: String, _ node: SourceNode, baseDirectory: String) throws -> InputDeclaration {
        try Self.checkName(name, of: .input, at: node)
        guard node.isMapping else {
            throw node.error(.invalidType, "an input declaration must be a mapping with type:, found \(node.shapeName)")
        }
        let entries = try node.entries()
        warnUnknownKeys(entries, known: Self.inputDeclarationKeys, in: node, ignored: IgnoredKeys.input)
        guard let typeNode = entries["type"], !typeNode.isNull else {
            throw node.error(.missingField, "input '\(name)' needs a type: (\(Self.inputTypeList))")
        }
        let typeName = try typeNode.string()
        let kind: InputDeclaration.Kind
        if let parameter = ParameterType(rawValue: typeName) {
            kind = .parameter(parameter)
        } else if let data = DataType(rawValue: typeName) {
            kind = .data(data)
        } else {
            throw typeNode.error(.invalidType, "input type '\(typeName)' is not valid; expected one of: \(Self.inputTypeList)")
        }
        var declaration = InputDeclaration(
            name: name, kind: kind,
            isOptional: try entries["optional"].map { $0.isNull ? false : try $0.bool() } ?? false,
            defaultValue: nil, defaultData: nil, minimum: nil, maximum: nil, choices: nil, mode: nil, location: node
        )
        if let mode = entries["mode"], !mode.isNull {
            declaration.mode = try Self.checkedInputMode(mode)
        }
        switch kind {
        case .parameter(let type):
            for key in ["min", "max"] {
                guard let bound = entries[key], !bound.isNull else { continue }
                guard type == .number || type == .integer else {
                    warnings.append(bound.warning("\(key) only applies to number and integer inputs; ignored"))
                    continue
                }
                let value = try bound.literal()
                guard value.numericValue != nil, value.booleanValue == nil else {
                    throw bound.error(.invalidType, "\(key) must be a number, found \(value.quoted)")
                }
                if key == "min" { declaration.minimum = value } else { declaration.maximum = value }
            }
            if let choices = entries["enum"], !choices.isNull {
                declaration.choices = try choices.elements().map { try $0.literal() }
            }
            if let value = entries["default"], !value.isNull {
                let literal = try value.literal()
                try declaration.validate(literal, at: value)
                declaration.defaultValue = literal
            }
        case .data(let type):
            for key in ["min", "max", "enum"] where entries[key] != nil {
                warnings.append(entries[key]!.warning("\(key) does not apply to data inputs; ignored"))
            }
            if let value = entries["default"] ?? entries["path"], !value.isNull {
                let text = try value.string(expecting: "a path")
                declaration.defaultData = DataReference(
                    type: type, mode: declaration.mode,
                    source: try assets.dataSource(text, relativeTo: baseDirectory, at: value).source
                )
            }
        }
        return declaration
    }

    /// Reads one `outputs:` declaration of a component or pipeline.
    /// `registers`: the declaration belongs to a pipeline job, whose outputs may be registered as data
    /// assets (`name:`, `version:`); a component's may not (a component is a definition, not a job).
    mutating func readOutputDeclaration(name: String, _ node: SourceNode, requireType: Bool, registers: Bool = false) throws -> OutputDeclaration {
        try Self.checkName(name, of: .output, at: node)
        var declaration = OutputDeclaration(name: name, type: nil, mode: nil, location: node)
        guard !node.isNull else { return declaration }
        guard node.isMapping else {
            throw node.error(.invalidType, "an output declaration must be a mapping ({type, mode}) or empty, found \(node.shapeName)")
        }
        let entries = try node.entries()
        warnUnknownKeys(entries, known: Self.outputDeclarationKeys, in: node, ignored: IgnoredKeys.outputDeclaration)
        if registers {
            declaration.asset = try Self.readOutputAsset(entries, output: name, in: node)
        } else if let asset = entries["name"] ?? entries["version"], !asset.isNull {
            warnings.append(asset.warning(
                "a component's output '\(name)' is not registered as a data asset: give name: and version: on the pipeline's output or the job's output instead"
            ))
        }
        if let typeNode = entries["type"], !typeNode.isNull {
            declaration.type = try Self.checkedOutputType(typeNode)
        } else if requireType {
            throw node.error(.missingField, "output '\(name)' needs a type:")
        }
        if let mode = entries["mode"], !mode.isNull {
            declaration.mode = try Self.checkedOutputMode(mode)
        }
        if let path = entries["path"], !path.isNull {
            declaration.path = try readOutputPath(path)
        }
        return declaration
    }

    /// An output `path:`: a datastore path template, checked now so that a typo fails before
    /// anything runs; nil (with a warning) for any other kind of location, which Conduit does not write.
    mutating func readOutputPath(_ node: SourceNode) throws(SpecError) -> String? {
        try Self.checkOutputPath(node)
        let text = try node.string(expecting: "a path")
        guard DatastorePath.isDatastoreURI(text) else {
            warnings.append(node.warning(
                "output path '\(text)' is not an azureml://datastores/NAME/paths/... path; Conduit keeps the output in its own store only"
            ))
            return nil
        }
        do {
            _ = try DatastorePath(parsing: text)
        } catch {
            throw node.error(.invalidBinding, error.message)
        }
        return text
    }

    // MARK: Checks shared by declarations and values

    /// Every valid input type, for messages.
    static let inputTypeList = (DataType.allCases.map(\.rawValue) + ParameterType.allCases.map(\.rawValue)).joined(separator: ", ")
    /// Modes a data input may use.
    static let inputModes = ["ro_mount", "download", "direct", "eval_mount", "eval_download", "mount", "link"]
    /// Modes an output may use.
    static let outputModes = ["rw_mount", "upload", "direct", "mount", "link"]

    static func checkedInputMode(_ node: SourceNode) throws(SpecError) -> String {
        let mode = try node.string()
        guard inputModes.contains(mode) else {
            throw node.error(.invalidEnum, "input mode '\(mode)' is not valid; expected one of: \(inputModes.joined(separator: ", "))")
        }
        return mode
    }

    static func checkedOutputMode(_ node: SourceNode) throws(SpecError) -> String {
        let mode = try node.string()
        guard outputModes.contains(mode) else {
            throw node.error(.invalidEnum, "output mode '\(mode)' is not valid; expected one of: \(outputModes.joined(separator: ", "))")
        }
        return mode
    }

    static func checkedOutputType(_ node: SourceNode) throws(SpecError) -> DataType {
        let name = try node.string()
        if let type = DataType(rawValue: name) { return type }
        if ParameterType(rawValue: name) != nil {
            throw node.error(.notSupported, "primitive (\(name)) outputs are not supported yet; use a data output type")
        }
        let valid = DataType.allCases.map(\.rawValue).joined(separator: ", ")
        throw node.error(.invalidType, "output type '\(name)' is not valid; expected one of: \(valid)")
    }

    /// Refuses an output `path` with `..` segments, which could write outside the datastore.
    static func checkOutputPath(_ node: SourceNode) throws(SpecError) {
        let text = try node.string(expecting: "a path")
        if PathResolver.hasParentSegment(text) {
            throw node.error(
                .pathEscapes, "output path '\(text)' contains '..' segments; an output path must stay inside its datastore"
            )
        }
    }
}
