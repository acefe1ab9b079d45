import Foundation
import Yams

/// Turns a command with `${{inputs.x}}`, `${{outputs.y}}` and `$[[ ... ]]` into a `CommandTemplate`.
///
/// Every reference must name a declared input or output; an optional input may only appear inside
/// `$[[ ... ]]`. A `$[[ ... ]]` segment is kept (without its brackets) when every input it uses has a
/// value, and dropped otherwise; one with no `${{ }}` inside stays as literal text, passed as a
/// value so that bash cannot read `$[...]` in it as arithmetic. The result is checked with
/// `CommandTemplate.validate()`, so a command whose quoting Conduit cannot follow is refused here.
enum CommandCompiler {
    /// What the compiler knows about one declared input.
    struct Input {
        /// The value, when there is one.
        enum Value {
            /// A parameter, rendered as Azure renders it.
            case parameter(String)
            /// A data input (the worker fills in a path).
            case data
            /// No value.
            case unset
        }

        var isOptional: Bool
        var value: Value
    }

    /// A piece of the parsed command.
    private enum Piece {
        case text(String)
        /// A `$[[ ... ]]` with no reference inside: literal text the program must see as written.
        case literal(String)
        case reference(kind: String, name: String, raw: String)
        case optional([Piece])
    }

    /// Compiles `command`; errors are located at `location` (the `command:` field).
    static func compile(
        _ command: String, inputs: [String: Input], inputOrder: [String], outputs: [String], at location: SourceNode
    ) throws(SpecError) -> CommandTemplate {
        let pieces = try parse(command, at: location)
        // Check every reference first, so the message names the first problem in the text.
        func check(_ pieces: [Piece], insideOptional: Bool) throws(SpecError) {
            for piece in pieces {
                switch piece {
                case .text, .literal:
                    break
                case .optional(let inner):
                    try check(inner, insideOptional: true)
                case .reference(let kind, let name, let raw):
                    if kind == "inputs" {
                        guard let input = inputs[name] else {
                            let declared = inputOrder.isEmpty ? "none" : inputOrder.joined(separator: ", ")
                            throw location.error(
                                .undeclaredReference,
                                "\(raw) refers to input '\(name)', which is not declared (declared inputs: \(declared))"
                            )
                        }
                        if input.isOptional && !insideOptional {
                            throw location.error(
                                .optionalOutsideBrackets,
                                "optional input '\(name)' must be placed inside $[[ ... ]] in the command, e.g. $[[--\(name) \(raw)]]"
                            )
                        }
                    } else if !outputs.contains(name) {
                        let declared = outputs.isEmpty ? "none" : outputs.joined(separator: ", ")
                        throw location.error(
                            .undeclaredReference,
                            "\(raw) refers to output '\(name)', which is not declared (declared outputs: \(declared))"
                        )
                    }
                }
            }
        }
        try check(pieces, insideOptional: false)

        var segments: [CommandTemplate.Segment] = []
        func append(_ segment: CommandTemplate.Segment) {
            if case .text(let text) = segment, case .text(let previous)? = segments.last {
                segments[segments.count - 1] = .text(previous + text)
            } else if case .text(let text) = segment, text.isEmpty {
                return
            } else {
                segments.append(segment)
            }
        }
        func render(_ piece: Piece) throws(SpecError) {
            switch piece {
            case .text(let text):
                append(.text(text))
            case .literal(let text):
                append(.value(text))
            case .optional(let inner):
                let allSet = inner.allSatisfy { piece in
                    guard case .reference("inputs", let name, _) = piece, let input = inputs[name] else { return true }
                    if case .unset = input.value { return false }
                    return true
                }
                if allSet {
                    for piece in inner { try render(piece) }
                }
            case .reference(let kind, let name, let raw):
                if kind == "outputs" {
                    append(.outputPath(name))
                    return
                }
                switch inputs[name]?.value ?? .unset {
                case .parameter(let value): append(.value(value))
                case .data: append(.inputPath(name))
                case .unset:
                    throw location.error(
                        .missingInput,
                        "the command uses \(raw) outside $[[ ... ]], but input '\(name)' has no value"
                    )
                }
            }
        }
        for piece in pieces { try render(piece) }
        let template = CommandTemplate(segments: segments)
        do {
            try template.validate()
        } catch {
            throw location.error(.commandQuoting, error.message)
        }
        return template
    }

    /// The `$[[ ... ]]` segments of `command` that hold no `${{ }}` reference, as written: text
    /// that binds nothing and reaches the program literally.
    static func literalSegments(in command: String) -> [String] {
        let location = SourceNode(Node(command), file: "", field: "command")
        guard let pieces = try? parse(command, at: location) else { return [] }
        return pieces.compactMap { if case .literal(let raw) = $0 { raw } else { nil } }
    }

    /// Whether `command` refers to `${{outputs.NAME}}` (whitespace inside the braces allowed),
    /// inside a `$[[ ... ]]` segment or not.
    static func refersToOutput(_ name: String, in command: String) -> Bool {
        var rest = command[...]
        while let open = rest.range(of: "${{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { return false }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner == "outputs." + name { return true }
            rest = rest[close.upperBound...]
        }
        return false
    }

    /// Splits the command into text, references and optional segments.
    private static func parse(_ command: String, at location: SourceNode) throws(SpecError) -> [Piece] {
        var pieces: [Piece] = []
        var text = ""
        var index = command.startIndex
        while index < command.endIndex {
            let rest = command[index...]
            if rest.hasPrefix("$[["), let close = rest.range(of: "]]") {
                let body = String(command[command.index(index, offsetBy: 3)..<close.lowerBound])
                let raw = String(command[index..<close.upperBound])
                let inner = try parseReferences(body, at: location)
                if inner.contains(where: { if case .reference = $0 { return true } else { return false } }) {
                    if !text.isEmpty { pieces.append(.text(text)) }
                    text = ""
                    pieces.append(.optional(inner))
                } else {
                    if !text.isEmpty { pieces.append(.text(text)) }
                    text = ""
                    pieces.append(.literal(raw))
                }
                index = close.upperBound
                continue
            }
            if rest.hasPrefix("$[["), rest.range(of: "]]") == nil {
                // Left as text, bash would read `$[` as arithmetic and the step would die at run time.
                throw location.error(
                    .invalidBinding,
                    "the command opens an optional segment with $[[ that no ]] closes (\(String(rest.prefix(40)).debugDescription)); "
                        + "close it, as in $[[--name ${{inputs.name}}]]"
                )
            }
            if rest.hasPrefix("${{"), rest.range(of: "}}") == nil {
                // Left as text, bash would fail on `${{` (a bad substitution) at run time.
                throw location.error(
                    .invalidBinding,
                    "the command opens a reference with ${{ that no }} closes (\(String(rest.prefix(40)).debugDescription)); "
                        + "close it, as in ${{inputs.name}}"
                )
            }
            if rest.hasPrefix("${{"), let close = rest.range(of: "}}") {
                let raw = String(command[index..<close.upperBound])
                if !text.isEmpty { pieces.append(.text(text)) }
                text = ""
                pieces.append(try reference(raw, at: location))
                index = close.upperBound
                continue
            }
            text.append(command[index])
            index = command.index(after: index)
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        return pieces
    }

    /// Text and references only (inside `$[[ ... ]]`).
    private static func parseReferences(_ body: String, at location: SourceNode) throws(SpecError) -> [Piece] {
        var pieces: [Piece] = []
        var text = ""
        var index = body.startIndex
        while index < body.endIndex {
            let rest = body[index...]
            if rest.hasPrefix("${{"), rest.range(of: "}}") == nil {
                throw location.error(
                    .invalidBinding, "the command opens a reference with ${{ that no }} closes inside $[[ ... ]]; close it, as in ${{inputs.name}}"
                )
            }
            if rest.hasPrefix("${{"), let close = rest.range(of: "}}") {
                if !text.isEmpty { pieces.append(.text(text)) }
                text = ""
                pieces.append(try reference(String(body[index..<close.upperBound]), at: location))
                index = close.upperBound
                continue
            }
            text.append(body[index])
            index = body.index(after: index)
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        return pieces
    }

    /// `${{ inputs.NAME }}` or `${{ outputs.NAME }}`.
    private static func reference(_ raw: String, at location: SourceNode) throws(SpecError) -> Piece {
        let inner = raw.dropFirst(3).dropLast(2).trimmingCharacters(in: .whitespaces)
        let parts = inner.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "inputs" || parts[0] == "outputs", !parts[1].isEmpty else {
            throw location.error(
                .invalidBinding, "\(raw) is not supported in a command; expected ${{inputs.NAME}} or ${{outputs.NAME}}"
            )
        }
        return .reference(kind: String(parts[0]), name: String(parts[1]), raw: raw)
    }
}
