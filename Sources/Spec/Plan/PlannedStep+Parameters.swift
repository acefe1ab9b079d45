import Foundation
import Yams

extension PlannedStep {
    /// The step's command compiled again from `commandTemplate` with `parameters` in place of the
    /// plan's values, for replaying a step with edited parameters (`conduit step run --set`).
    ///
    /// `parameters` holds every parameter value (rendered as they should appear); data inputs
    /// and outputs stay placeholders. An input with neither a value nor data binding counts as
    /// unset, so a `$[[ ... ]]` segment that uses it is dropped, as when the plan was built.
    ///
    /// - Throws: `SpecError` when the command uses an input that has no value outside `$[[ ... ]]`.
    public func command(withParameters parameters: [String: String]) throws(SpecError) -> CommandTemplate {
        var inputs: [String: CommandCompiler.Input] = [:]
        for (name, value) in parameters { inputs[name] = CommandCompiler.Input(isOptional: false, value: .parameter(value)) }
        for input in self.inputs { inputs[input.name] = CommandCompiler.Input(isOptional: false, value: .data) }
        // Inputs the command names without a value here were unset optional inputs in the plan.
        for name in Self.referencedInputs(in: commandTemplate) where inputs[name] == nil {
            inputs[name] = CommandCompiler.Input(isOptional: true, value: .unset)
        }
        let location = SourceNode(Node(commandTemplate), file: "step \(name)", field: "command")
        return try CommandCompiler.compile(
            commandTemplate, inputs: inputs, inputOrder: inputs.keys.sorted(), outputs: outputs.map(\.name), at: location
        )
    }

    /// Names of the inputs `${{inputs.NAME}}` references in `command`.
    static func referencedInputs(in command: String) -> Set<String> {
        var names: Set<String> = []
        var rest = command[...]
        while let open = rest.range(of: "${{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner.hasPrefix("inputs.") { names.insert(String(inner.dropFirst("inputs.".count))) }
            rest = rest[close.upperBound...]
        }
        return names
    }
}
