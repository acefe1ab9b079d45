import Foundation

/// A `${{parent....}}` data-binding expression used as a whole input, output or field value.
enum BindingExpression: Hashable, Sendable {
    /// `${{parent.inputs.NAME}}`
    case parentInput(String)
    /// `${{parent.outputs.NAME}}`
    case parentOutput(String)
    /// `${{parent.jobs.STEP.outputs.NAME}}`
    case stepOutput(step: String, output: String)
    /// `${{parent.jobs.STEP.inputs.NAME}}`
    case stepInput(step: String, input: String)

    /// The sibling step the expression reads from, if any.
    var step: String? {
        switch self {
        case .stepOutput(let step, _), .stepInput(let step, _): return step
        case .parentInput, .parentOutput: return nil
        }
    }

    /// The expression as written in canonical form.
    var text: String {
        switch self {
        case .parentInput(let name): return "${{parent.inputs.\(name)}}"
        case .parentOutput(let name): return "${{parent.outputs.\(name)}}"
        case .stepOutput(let step, let output): return "${{parent.jobs.\(step).outputs.\(output)}}"
        case .stepInput(let step, let input): return "${{parent.jobs.\(step).inputs.\(input)}}"
        }
    }

    /// Result of looking at a string for a binding.
    enum Match {
        /// The string holds no `${{`.
        case none
        /// The whole string is this binding.
        case binding(BindingExpression)
        /// The string holds `${{` but not as one whole binding Conduit understands.
        case invalid(String)
    }

    /// Reads `text` as a binding: whitespace inside the braces is allowed (`${{ parent.inputs.x }}`).
    static func match(_ text: String) -> Match {
        guard text.contains("${{") else { return .none }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("${{"), trimmed.hasSuffix("}}"), trimmed.count >= 5 else {
            return .invalid("a binding must be the whole value, like ${{parent.inputs.NAME}}; found '\(text)'")
        }
        let inner = trimmed.dropFirst(3).dropLast(2).trimmingCharacters(in: .whitespaces)
        guard !inner.contains("${{"), !inner.contains("}}") else {
            return .invalid("a binding must be the whole value, like ${{parent.inputs.NAME}}; found '\(text)'")
        }
        let parts = inner.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty }), parts.first == "parent" else {
            return .invalid("'\(text)' is not a binding Conduit understands; expected ${{parent.inputs.NAME}}, ${{parent.outputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}")
        }
        switch (parts.count, parts.count > 1 ? parts[1] : "") {
        case (3, "inputs"): return .binding(.parentInput(parts[2]))
        case (3, "outputs"): return .binding(.parentOutput(parts[2]))
        case (5, "jobs") where parts[3] == "outputs": return .binding(.stepOutput(step: parts[2], output: parts[4]))
        case (5, "jobs") where parts[3] == "inputs": return .binding(.stepInput(step: parts[2], input: parts[4]))
        default:
            return .invalid("'\(text)' is not a binding Conduit understands; expected ${{parent.inputs.NAME}}, ${{parent.outputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}")
        }
    }
}
