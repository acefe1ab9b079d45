/// Checking parameter values against a declaration's type, `min`/`max` and `enum`.
extension InputDeclaration {
    /// Throws, located at `location`, when `value` does not fit this parameter.
    func validate(_ value: Literal, at location: SourceNode) throws(SpecError) {
        guard case .parameter(let type) = kind else { return }
        switch type {
        case .string:
            break
        case .integer:
            guard value.integerValue != nil else {
                throw location.error(.invalidType, "input '\(name)' expects an integer, found \(value.kindName) \(value.quoted)")
            }
        case .number:
            guard value.numericValue != nil else {
                throw location.error(.invalidType, "input '\(name)' expects a number, found \(value.kindName) \(value.quoted)")
            }
        case .boolean:
            guard value.booleanValue != nil else {
                throw location.error(.invalidType, "input '\(name)' expects a boolean, found \(value.kindName) \(value.quoted)")
            }
        }
        if let number = value.numericValue {
            if let minimum, let bound = minimum.numericValue, number < bound {
                throw location.error(
                    .outOfRange, "\(value.pythonString) is below min \(minimum.pythonString) (input '\(name)')"
                )
            }
            if let maximum, let bound = maximum.numericValue, number > bound {
                throw location.error(
                    .outOfRange, "\(value.pythonString) is above max \(maximum.pythonString) (input '\(name)')"
                )
            }
        }
        if let choices, !choices.contains(where: { $0.pythonString == value.pythonString }) {
            let allowed = choices.map(\.pythonString).joined(separator: ", ")
            throw location.error(
                .invalidEnum, "\(value.quoted) is not an allowed value of input '\(name)'; expected one of: \(allowed)"
            )
        }
    }
}
