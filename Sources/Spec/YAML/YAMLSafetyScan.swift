import CYaml

/// Checks a YAML text event by event, before any tree is built, for what must never reach the composer.
///
/// Refuses syntax errors, several documents, non-scalar mapping keys, duplicate keys, aliases whose
/// expansion exceeds `aliasNodeBudget`, documents of more than `nodeBudget` nodes (aliases expanded) and
/// nesting deeper than `maximumDepth`. The scan reads libyaml's event stream (the parser under Yams)
/// and keeps only counters, so an alias bomb is refused in microseconds.
struct YAMLSafetyScan {
    /// The most nodes that aliases may add to a document once expanded.
    var aliasNodeBudget = 10_000
    /// The most nodes a document may hold once aliases are expanded.
    var nodeBudget = 100_000
    /// The deepest nesting of sequences and mappings allowed.
    var maximumDepth = 100

    /// One open sequence or mapping.
    private struct Frame {
        var isMapping: Bool
        var anchor: String?
        var size = 1
        /// Mappings alternate key, value; true when the next node is a key.
        var expectsKey = true
        /// Keys seen so far, with the line of their first occurrence.
        var keys: [String: Int] = [:]
    }

    /// What an anchor refers to: its expanded size and, for a scalar, its text.
    private struct AnchorInfo {
        var size: Int
        var scalar: String?
    }

    /// Scans `text`; throws `SpecError` naming `file` on the first problem.
    func check(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw SpecError(.syntax, file: file, message: "could not start the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0A] }
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            try run(&parser, file: file)
        }
    }

    private func run(_ parser: inout yaml_parser_t, file: String) throws {
        var stack: [Frame] = []
        var anchors: [String: AnchorInfo] = [:]
        var aliasNodes = 0
        var totalNodes = 0
        var documents = 0

        func fail(_ code: SpecError.Code, _ mark: yaml_mark_t, _ message: String) -> SpecError {
            SpecError(code, file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1, message: message)
        }

        /// Records a finished node of `size` nodes in its parent; `keyText` is set when it is a usable key.
        func finish(size: Int, keyText: String?, isCollection: Bool, mark: yaml_mark_t) throws {
            guard var parent = stack.popLast() else { return }
            defer { stack.append(parent) }
            parent.size += size
            guard parent.isMapping else { return }
            if parent.expectsKey {
                guard let keyText, !isCollection else {
                    let kind = isCollection ? "a sequence or mapping" : "an alias of a sequence or mapping"
                    throw fail(
                        .complexKey, mark,
                        "mapping keys must be plain text, but \(kind) is used as a key at line \(Int(mark.line) + 1)"
                    )
                }
                if let first = parent.keys[keyText] {
                    throw fail(
                        .duplicateKey, mark,
                        "duplicate key '\(keyText)' at line \(Int(mark.line) + 1) (first defined at line \(first))"
                    )
                }
                parent.keys[keyText] = Int(mark.line) + 1
            }
            parent.expectsKey.toggle()
        }

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                throw syntaxError(parser, file: file)
            }
            defer { yaml_event_delete(&event) }
            let mark = event.start_mark
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw fail(.syntax, mark, "expected a single YAML document, found another one at line \(Int(mark.line) + 1)")
                }
            case YAML_SCALAR_EVENT:
                totalNodes += 1
                let value = Self.string(event.data.scalar.value, length: event.data.scalar.length) ?? ""
                if let anchor = Self.string(event.data.scalar.anchor) {
                    anchors[anchor] = AnchorInfo(size: 1, scalar: value)
                }
                try finish(size: 1, keyText: value, isCollection: false, mark: mark)
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard let info = anchors[name] else {
                    throw fail(.syntax, mark, "alias *\(name) refers to no anchor defined before it")
                }
                aliasNodes += info.size
                totalNodes += info.size
                if aliasNodes > aliasNodeBudget {
                    throw fail(
                        .aliasLimit, mark,
                        "YAML aliases expand to more than \(aliasNodeBudget) nodes (alias *\(name) at line \(Int(mark.line) + 1)); refusing what looks like an alias bomb"
                    )
                }
                try finish(size: info.size, keyText: info.scalar, isCollection: info.scalar == nil, mark: mark)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                totalNodes += 1
                if stack.count >= maximumDepth {
                    throw fail(.tooLarge, mark, "the document is nested more than \(maximumDepth) levels deep")
                }
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                if let parent = stack.last, parent.isMapping, parent.expectsKey {
                    throw fail(
                        .complexKey, mark,
                        "mapping keys must be plain text, but a \(isMapping ? "mapping" : "sequence") is used as a key at line \(Int(mark.line) + 1)"
                    )
                }
                let anchor = isMapping
                    ? Self.string(event.data.mapping_start.anchor) : Self.string(event.data.sequence_start.anchor)
                stack.append(Frame(isMapping: isMapping, anchor: anchor))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { break }
                if let anchor = frame.anchor {
                    anchors[anchor] = AnchorInfo(size: frame.size, scalar: nil)
                }
                try finish(size: frame.size, keyText: nil, isCollection: true, mark: mark)
            default:
                break
            }
            if totalNodes > nodeBudget {
                throw fail(.tooLarge, mark, "the document holds more than \(nodeBudget) nodes (aliases expanded)")
            }
        }
    }

    private func syntaxError(_ parser: yaml_parser_t, file: String) -> SpecError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        var message = "YAML syntax error: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            message += " (\(context) started at line \(Int(parser.context_mark.line) + 1))"
        }
        return SpecError(
            .syntax, file: file, line: Int(parser.problem_mark.line) + 1,
            column: Int(parser.problem_mark.column) + 1, message: message
        )
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int? = nil) -> String? {
        guard let pointer else { return nil }
        if let length {
            return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
        }
        return String(cString: pointer)
    }
}
