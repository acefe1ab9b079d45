import Yams

/// A YAML node together with the file it came from and its dotted field path, so every error
/// can say `file:line:column: field: message`.
struct SourceNode {
    /// The composed node.
    var node: Node
    /// Absolute path of the file holding the node.
    var file: String
    /// Dotted path of the node from the document root (`jobs.prep.inputs`).
    var field: String

    init(_ node: Node, file: String, field: String) {
        self.node = node
        self.file = file
        self.field = field
    }

    /// 1-based line of the node.
    var line: Int? { node.mark?.line }
    /// 1-based column of the node.
    var column: Int? { node.mark?.column }

    /// An error located at this node.
    func error(_ code: SpecError.Code, _ message: String) -> SpecError {
        SpecError(code, file: file, line: line, column: column, field: field, message: message)
    }

    /// `file:line:column: field: message`, for warnings.
    func warning(_ message: String) -> String {
        error(.syntax, message).description
    }

    /// The path of a child field.
    func childField(_ key: String) -> String {
        field.isEmpty ? key : "\(field).\(key)"
    }

    // MARK: Shapes

    /// Whether the node is a mapping.
    var isMapping: Bool { node.mapping != nil }

    /// Whether the node is a sequence.
    var isSequence: Bool { node.sequence != nil }

    /// Whether the node is a null scalar (`~`, `null`, empty, or tagged `!!null`).
    var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        let tagName = Tag.Name(rawValue: scalar.tag.rawValue)
        if tagName == .null { return true }
        let isImplicit = tagName == .implicit || tagName == YAMLDocument.plainTag
        return isImplicit && scalar.style == .plain && ScalarResolver.isNull(scalar.string)
    }

    /// A short name of the node's shape for messages.
    var shapeName: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar, .alias: return (try? literal()).map { "the \($0.kindName) \($0.quoted)" } ?? "a scalar"
        }
    }

    // MARK: Scalars

    /// The scalar's value under YAML 1.1 rules; quoted scalars are strings, `!!` tags are honoured.
    func literal() throws(SpecError) -> Literal {
        guard case .scalar(let scalar) = node else {
            throw error(.invalidType, "expected a single value, found \(shapeName)")
        }
        let text = scalar.string
        var tagName = Tag.Name(rawValue: scalar.tag.rawValue)
        if tagName == YAMLDocument.plainTag { tagName = .implicit }
        do throws(ScalarResolver.Failure) {
            switch tagName {
            case .implicit:
                return scalar.style == .plain ? try ScalarResolver.resolve(plain: text) : .string(text)
            case .str, "!":
                return .string(text)
            case .null:
                return .null
            case .bool:
                guard let value = ScalarResolver.bool(text) else { throw ScalarResolver.Failure(message: "\(ScalarResolver.abbreviated(text)) is not a boolean") }
                return .bool(value)
            case .int:
                let value = try ScalarResolver.resolve(plain: text)
                guard case .int = value else { throw ScalarResolver.Failure(message: "\(ScalarResolver.abbreviated(text)) is not an integer") }
                return value
            case .float:
                let value = try ScalarResolver.resolve(plain: text)
                switch value {
                case .float: return value
                case .int(let number): return .float(Double(number))
                default:
                    if let number = PythonFloatFormat.parseFloat(text) { return .float(number) }
                    throw ScalarResolver.Failure(message: "\(ScalarResolver.abbreviated(text)) is not a number")
                }
            case .timestamp:
                guard let stamp = try ScalarResolver.timestamp(text) else {
                    throw ScalarResolver.Failure(message: "\(ScalarResolver.abbreviated(text)) is not a timestamp")
                }
                return .timestamp(stamp)
            default:
                throw ScalarResolver.Failure(message: "the YAML tag \(scalar.tag.rawValue) is not supported (safe YAML only)")
            }
        } catch {
            throw self.error(.invalidType, error.message)
        }
    }

    /// The scalar's text as Python's `str()` shows it; null, lists and mappings are refused.
    func string(expecting what: String = "a string") throws(SpecError) -> String {
        let value = try literal()
        if case .null = value {
            throw error(.invalidType, "expected \(what), found nothing (null)")
        }
        return value.pythonString
    }

    /// The scalar as a boolean (YAML 1.1 `true`/`yes`/`on`...).
    func bool() throws(SpecError) -> Bool {
        let value = try literal()
        guard case .bool(let flag) = value else {
            throw error(.invalidType, "expected true or false, found \(value.quoted)")
        }
        return flag
    }

    /// The scalar as an integer.
    func integer() throws(SpecError) -> Int {
        let value = try literal()
        guard case .int(let number) = value else {
            throw error(.invalidType, "expected an integer, found \(value.quoted)")
        }
        return number
    }

    // MARK: Collections

    /// A mapping's entries in file order, with `<<` merge keys applied as PyYAML does.
    func entries() throws(SpecError) -> [(key: String, value: SourceNode)] {
        guard case .mapping(let mapping) = node else {
            throw error(.invalidType, "expected a mapping, found \(shapeName)")
        }
        var own: [(key: String, value: SourceNode)] = []
        var merged: [(key: String, value: SourceNode)] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw SpecError(
                    .complexKey, file: file, line: keyNode.mark?.line, column: keyNode.mark?.column, field: field,
                    message: "mapping keys must be plain text (line \(keyNode.mark?.line ?? 0))"
                )
            }
            let key = SourceNode(keyNode, file: file, field: field)
            let keyTag = Tag.Name(rawValue: scalar.tag.rawValue)
            if scalar.string == "<<", scalar.style == .plain, keyTag == .implicit || keyTag == YAMLDocument.plainTag {
                let source = SourceNode(valueNode, file: file, field: field)
                let sources = source.isSequence ? try source.elements() : [source]
                for item in sources {
                    guard item.isMapping else {
                        throw item.error(.invalidType, "a merge key (<<) needs a mapping or a list of mappings")
                    }
                    for entry in try item.entries() where !merged.contains(where: { $0.key == entry.key }) {
                        merged.append((entry.key, SourceNode(entry.value.node, file: file, field: childField(entry.key))))
                    }
                }
                continue
            }
            let name = try key.literal().pythonString
            own.append((name, SourceNode(valueNode, file: file, field: childField(name))))
        }
        if merged.isEmpty { return own }
        return merged.filter { entry in !own.contains(where: { $0.key == entry.key }) } + own
    }

    /// A mapping's entries, or none when the node is null.
    func entriesOrEmpty() throws(SpecError) -> [(key: String, value: SourceNode)] {
        isNull ? [] : try entries()
    }

    /// A sequence's elements.
    func elements() throws(SpecError) -> [SourceNode] {
        guard case .sequence(let sequence) = node else {
            throw error(.invalidType, "expected a list, found \(shapeName)")
        }
        return sequence.enumerated().map { index, element in
            SourceNode(element, file: file, field: "\(field)[\(index)]")
        }
    }
}

/// Looking up a field of a mapping's entries.
extension Array where Element == (key: String, value: SourceNode) {
    /// The value of `key`, if present.
    subscript(key: String) -> SourceNode? {
        first(where: { $0.key == key })?.value
    }
}
