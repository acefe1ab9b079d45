import Yams

/// Applies `--set KEY=VALUE` overrides to a pipeline job's YAML tree before it is read, as
/// `az ml job create --set` does: `KEY` is a dotted path into the file (`inputs.lr`,
/// `settings.default_compute`, `jobs.train.inputs.epochs`, `jobs.train.component`), `VALUE` is YAML
/// text read like a value in the file. Everything the reader checks in the file it checks in an
/// overridden value too.
///
/// Two rules beyond a plain replacement, both Azure's: a pipeline input (`inputs.NAME`) must exist,
/// so a misspelt name is caught; and a text value given to a data input (`{type: uri_folder, path}`)
/// replaces its `path`, keeping its type and mode. Missing mappings on the way (`settings:`) are
/// created; a path through a value that is not a mapping is refused.
enum OverrideApplier {
    /// Applies `overrides` in order to `root`, the document of `file`.
    static func apply(_ overrides: [String], to root: inout Node, file: String) throws(SpecError) {
        for override in overrides {
            try apply(override, to: &root, file: file)
        }
    }

    /// Applies one override.
    static func apply(_ override: String, to root: inout Node, file: String) throws(SpecError) {
        func failure(_ message: String, field: String? = nil, code: SpecError.Code = .invalidOverride) -> SpecError {
            SpecError(code, file: file, field: field.map { "--set \($0)" }, message: message)
        }
        guard let equals = override.firstIndex(of: "=") else {
            throw failure("'\(override)' is not KEY=VALUE; expected e.g. inputs.learning_rate=0.05 or settings.default_compute=azureml:gpu")
        }
        let key = override[..<equals].trimmingCharacters(in: .whitespaces)
        let text = String(override[override.index(after: equals)...])
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw failure("'\(key)' is not a field path; expected e.g. inputs.NAME, settings.NAME or jobs.STEP.inputs.NAME", field: key)
        }
        guard root.mapping != nil else {
            throw failure("the file is not a mapping, so --set \(key) has nothing to change", field: key, code: .notAPipeline)
        }
        let value: Node
        do {
            value = try YAMLDocument.parse(text, file: file, field: "--set \(key)").map { stripMarks($0.node) }
                ?? Node("", Tag(.null))
        } catch var error as SpecError {
            // Positions inside VALUE do not belong to the pipeline file.
            error.line = nil
            error.column = nil
            error.field = "--set \(key)"
            throw error
        } catch {
            throw failure("VALUE is not valid YAML: \(error)", field: key, code: .syntax)
        }
        try checkNamedEntries(parts, in: root, key: key, file: file)
        try set(value, at: parts[...], in: &root, walked: [], key: key, file: file)
    }

    /// Refuses a pipeline input or a step that the file does not have, naming those it has.
    private static func checkNamedEntries(_ parts: [String], in root: Node, key: String, file: String) throws(SpecError) {
        func names(_ section: String) -> [String] {
            guard let mapping = child(section, of: root)?.mapping else { return [] }
            return mapping.keys.compactMap { $0.scalar?.string }
        }
        func failure(_ message: String) -> SpecError {
            SpecError(.invalidOverride, file: file, field: "--set \(key)", message: message)
        }
        // A job made of a pipeline component takes the component's inputs, which the reader checks.
        if parts[0] == "inputs", parts.count >= 2, child("component", of: root) == nil {
            let known = names("inputs")
            guard known.contains(parts[1]) else {
                throw failure("the pipeline has no input '\(parts[1])' (inputs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
        }
        if parts[0] == "jobs" {
            let known = names("jobs")
            guard parts.count >= 3 else {
                throw failure("'\(key)' names a whole step; set one of its fields, e.g. jobs.STEP.inputs.NAME or jobs.STEP.component")
            }
            guard known.contains(parts[1]) else {
                throw failure("the pipeline has no step '\(parts[1])' (steps: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
        }
    }

    /// Sets `value` at `path` below `node`, creating missing mappings.
    private static func set(
        _ value: Node, at path: ArraySlice<String>, in node: inout Node, walked: [String], key: String, file: String
    ) throws(SpecError) {
        guard let name = path.first else {
            node = merged(value, into: node, path: walked)
            return
        }
        guard var mapping = node.mapping else {
            let holder = walked.joined(separator: ".")
            let what = walked.count >= 2 && walked[walked.count - 2] == "inputs"
                ? "'\(holder)' is a value, not a data input, so it has no '\(name)'; use --set \(holder)=VALUE"
                : "'\(holder)' is not a mapping, so it has no field '\(name)'"
            throw SpecError(.invalidOverride, file: file, field: "--set \(key)", message: what)
        }
        let index = Self.index(of: name, in: mapping)
        var child = index.map { mapping[$0].value } ?? .mapping(Node.Mapping([]))
        if child.scalar != nil, child.scalar?.string == "" || isNullScalar(child), path.count > 1 {
            child = .mapping(Node.Mapping([]))  // `settings:` left empty in the file
        }
        try set(value, at: path.dropFirst(), in: &child, walked: walked + [name], key: key, file: file)
        if let index {
            mapping[index] = (mapping[index].key, child)
        } else {
            mapping[Node(name)] = child
        }
        node = .mapping(mapping)
    }

    /// What replaces `current` at `path`: `value`, except that a text value given to a pipeline or
    /// step data input (a mapping with a data `type:` or a `path:`) becomes that input's new `path`.
    private static func merged(_ value: Node, into current: Node, path: [String]) -> Node {
        guard path.count >= 2, path[path.count - 2] == "inputs", var mapping = current.mapping,
              let text = value.scalar, !isNullScalar(value) else { return value }
        let keys = mapping.keys.compactMap { $0.scalar?.string }
        let typeName = index(of: "type", in: mapping).flatMap { mapping[$0].value.scalar?.string }
        let isData = keys.contains("path") || typeName.map { DataType(rawValue: $0) != nil } == true
        guard isData else {
            if keys.contains("value") {
                let index = index(of: "value", in: mapping)!
                mapping[index] = (mapping[index].key, .scalar(text))
                return .mapping(mapping)
            }
            return value
        }
        if let index = index(of: "path", in: mapping) {
            mapping[index] = (mapping[index].key, .scalar(text))
        } else {
            mapping[Node("path")] = .scalar(text)
        }
        return .mapping(mapping)
    }

    private static func child(_ name: String, of node: Node) -> Node? {
        guard let mapping = node.mapping, let index = index(of: name, in: mapping) else { return nil }
        return mapping[index].value
    }

    /// The position of the last entry named `name` (the one a reader sees), if any.
    private static func index(of name: String, in mapping: Node.Mapping) -> Node.Mapping.Index? {
        var found: Node.Mapping.Index?
        var index = mapping.startIndex
        while index != mapping.endIndex {
            if mapping[index].key.scalar?.string == name { found = index }
            index = mapping.index(after: index)
        }
        return found
    }

    private static func isNullScalar(_ node: Node) -> Bool {
        guard let scalar = node.scalar else { return false }
        if Tag.Name(rawValue: scalar.tag.rawValue) == .null { return true }
        return scalar.style == .plain && ScalarResolver.isNull(scalar.string)
    }

    /// `node` without source positions: an overridden value has none in the pipeline file, so
    /// errors about it name the file and field only.
    private static func stripMarks(_ node: Node) -> Node {
        switch node {
        case .scalar(var scalar):
            scalar.mark = nil
            return .scalar(scalar)
        case .mapping(var mapping):
            mapping.mark = nil
            for index in mapping.indices {
                mapping[index] = (stripMarks(mapping[index].key), stripMarks(mapping[index].value))
            }
            return .mapping(mapping)
        case .sequence(var sequence):
            sequence.mark = nil
            for index in sequence.indices {
                sequence[index] = stripMarks(sequence[index])
            }
            return .sequence(sequence)
        case .alias:
            return node
        }
    }
}
