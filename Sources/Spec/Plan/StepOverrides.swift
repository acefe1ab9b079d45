/// `--set inputs.NAME=VALUE` assignments for replaying one planned step: new parameter values,
/// or local paths in place of data inputs.
public struct StepOverrides: Sendable, Hashable {
    /// Parameter name → new value (as it should appear in the command).
    public var parameters: [String: String]
    /// Data input name → absolute local path.
    public var dataPaths: [String: String]

    public init(parameters: [String: String] = [:], dataPaths: [String: String] = [:]) {
        self.parameters = parameters
        self.dataPaths = dataPaths
    }

    /// Reads `assignments` against `step`; relative paths resolve against `currentDirectory`.
    ///
    /// - Throws: `SpecError` (`invalidOverride`) for a malformed assignment, a name the step
    ///   has neither as a parameter nor as a data input, or a name given twice.
    public static func parse(_ assignments: [String], for step: PlannedStep, currentDirectory: String) throws(SpecError) -> StepOverrides {
        var result = StepOverrides()
        let dataInputs = Set(step.inputs.map(\.name))
        let known = (Array(step.parameters.keys) + step.inputs.map(\.name)).sorted()
        for assignment in assignments {
            func failure(_ message: String, field: String? = nil) -> SpecError {
                SpecError(.invalidOverride, file: "--set \(assignment)", field: field, message: message)
            }
            guard let equals = assignment.firstIndex(of: "=") else {
                throw failure("expected inputs.NAME=VALUE, e.g. inputs.learning_rate=0.05")
            }
            let key = String(assignment[..<equals])
            let value = String(assignment[assignment.index(after: equals)...])
            guard key.hasPrefix("inputs."), key.count > "inputs.".count, !key.dropFirst("inputs.".count).contains(".") else {
                throw failure("'\(key)' is not inputs.NAME; a step replay can change only its own inputs", field: key)
            }
            let name = String(key.dropFirst("inputs.".count))
            guard result.parameters[name] == nil, result.dataPaths[name] == nil else {
                throw failure("input '\(name)' is set twice", field: key)
            }
            if dataInputs.contains(name) {
                guard !value.isEmpty else { throw failure("input '\(name)' is a data input; expected a local path", field: key) }
                result.dataPaths[name] = value.hasPrefix("/") ? value : currentDirectory + "/" + value
            } else if step.parameters[name] != nil {
                result.parameters[name] = value
            } else {
                let list = known.isEmpty ? "none" : known.joined(separator: ", ")
                throw failure("step \(step.name) has no input '\(name)' with a value (its inputs: \(list))", field: key)
            }
        }
        return result
    }
}
