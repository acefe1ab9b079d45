/// Reading input and output values of pipeline jobs and nodes.
extension SpecReader {
    /// Keys of a data-input object.
    static let dataInputKeys: Set<String> = [
        "type", "path", "mode", "path_on_compute", "datastore", "description", "optional",
    ]
    /// Keys of a node output object.
    static let nodeOutputKeys: Set<String> = ["type", "mode", "path", "name", "version", "description", "datastore"]

    /// Reads an input value: a literal, `{value:}`, a binding, or a data object `{type, path, mode}`.
    mutating func readInputValue(_ node: SourceNode, baseDirectory: String) throws -> InputValue {
        switch node.node {
        case .scalar, .alias:
            return try literalOrBinding(node)
        case .sequence:
            throw node.error(.invalidType, "an input value must be a literal, a ${{...}} binding or a data object; found a list")
        case .mapping:
            break
        }
        let entries = try node.entries()
        let typeName = try entries["type"].flatMap { $0.isNull ? nil : try $0.string() }
        if let value = entries["value"] {
            warnUnknownKeys(entries, known: ["value", "type", "description", "optional", "min", "max", "enum"], in: node)
            if let typeName, ParameterType(rawValue: typeName) == nil {
                throw entries["type"]!.error(.invalidType, "an input with value: takes a parameter type (string, integer, number, boolean), found '\(typeName)'")
            }
            return try literalOrBinding(value)
        }
        if let typeName, let parameter = ParameterType(rawValue: typeName) {
            warnUnknownKeys(entries, known: Self.inputDeclarationKeys, in: node, ignored: IgnoredKeys.input)
            if let value = entries["default"], !value.isNull {
                return try literalOrBinding(value)
            }
            return .declaredParameter(parameter)
        }
        warnUnknownKeys(entries, known: Self.dataInputKeys, in: node, ignored: IgnoredKeys.input)
        var type: DataType?
        if let typeName {
            guard let dataType = DataType(rawValue: typeName) else {
                throw entries["type"]!.error(
                    .invalidType, "input type '\(typeName)' is not valid; expected one of: \(Self.inputTypeList)"
                )
            }
            type = dataType
        }
        let mode = try entries["mode"].flatMap { $0.isNull ? nil : try Self.checkedInputMode($0) }
        guard let pathNode = entries["path"], !pathNode.isNull else {
            return .data(type: type, mode: mode, path: nil)
        }
        let text = try pathNode.string(expecting: "a path")
        switch BindingExpression.match(text) {
        case .binding(let binding):
            return .data(type: type, mode: mode, path: .binding(binding))
        case .invalid(let message):
            throw pathNode.error(.invalidBinding, message)
        case .none:
            let (source, assetType) = try assets.dataSource(text, relativeTo: baseDirectory, at: pathNode)
            return .data(type: type ?? assetType, mode: mode, path: .source(source))
        }
    }

    /// An output's `name:` and `version:` (nil when it gives neither): the data asset it is
    /// registered as when its step completes. The name follows the data asset naming rule.
    static func readOutputAsset(
        _ entries: [(key: String, value: SourceNode)], output: String, in node: SourceNode
    ) throws(SpecError) -> OutputAssetName? {
        let named = entries["name"].map { !$0.isNull } ?? false
        let versioned = entries["version"].map { !$0.isNull } ?? false
        guard named || versioned else { return nil }
        let (name, version) = try readNameAndVersion(
            entries, of: .data, in: node,
            missing: "output '\(output)' gives version: without name:; name the data asset it is registered as"
        )
        return OutputAssetName(name: name, version: version)
    }

    /// A scalar as a literal, or as a binding when it is a whole `${{...}}` expression.
    private func literalOrBinding(_ node: SourceNode) throws(SpecError) -> InputValue {
        let literal = try node.literal()
        guard case .string(let text) = literal else { return .literal(literal) }
        switch BindingExpression.match(text) {
        case .none: return .literal(literal)
        case .binding(let binding): return .binding(binding)
        case .invalid(let message): throw node.error(.invalidBinding, message)
        }
    }

    /// Reads a node output: empty, `${{parent.outputs.X}}`, or `{type, mode, path}`.
    mutating func readNodeOutput(name: String, _ node: SourceNode) throws -> NodeOutput {
        try Self.checkName(name, of: .output, at: node)
        var output = NodeOutput(name: name, pipelineOutput: nil, type: nil, mode: nil, location: node)
        if node.isNull { return output }
        if node.isMapping {
            let entries = try node.entries()
            warnUnknownKeys(entries, known: Self.nodeOutputKeys, in: node)
            output.asset = try Self.readOutputAsset(entries, output: name, in: node)
            if let type = entries["type"], !type.isNull {
                output.type = try Self.checkedOutputType(type)
            }
            if let mode = entries["mode"], !mode.isNull {
                output.mode = try Self.checkedOutputMode(mode)
            }
            if let path = entries["path"], !path.isNull {
                let text = try path.string(expecting: "a path")
                if DatastorePath.isDatastoreURI(text) {
                    output.path = try readOutputPath(path)
                    return output
                }
                switch BindingExpression.match(text) {
                case .binding(let binding):
                    output.pipelineOutput = try Self.pipelineOutputName(binding, at: path)
                case .invalid(let message):
                    throw path.error(.invalidBinding, message)
                case .none:
                    output.path = try readOutputPath(path)
                }
            }
            return output
        }
        let text = try node.string()
        switch BindingExpression.match(text) {
        case .binding(let binding):
            output.pipelineOutput = try Self.pipelineOutputName(binding, at: node)
        case .invalid(let message):
            throw node.error(.invalidBinding, message)
        case .none:
            throw node.error(
                .invalidType, "an output must be empty, ${{parent.outputs.NAME}} or {type, mode, path}; found '\(text)'"
            )
        }
        return output
    }

    private static func pipelineOutputName(_ binding: BindingExpression, at node: SourceNode) throws(SpecError) -> String {
        guard case .parentOutput(let name) = binding else {
            throw node.error(.invalidBinding, "an output can only bind ${{parent.outputs.NAME}}, found \(binding.text)")
        }
        return name
    }
}
