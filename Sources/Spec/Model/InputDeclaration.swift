/// One `inputs:` entry of a command or pipeline component.
struct InputDeclaration {
    /// What kind of value the input takes.
    enum Kind {
        case parameter(ParameterType)
        case data(DataType)
    }

    var name: String
    var kind: Kind
    var isOptional: Bool
    /// `default:` of a parameter.
    var defaultValue: Literal?
    /// `default:` of a data input (a path), resolved.
    var defaultData: DataReference?
    /// `min:` of a number or integer.
    var minimum: Literal?
    /// `max:` of a number or integer.
    var maximum: Literal?
    /// `enum:` of a string.
    var choices: [Literal]?
    /// `mode:` of a data input.
    var mode: String?
    /// Where the declaration is written.
    var location: SourceNode

    /// Whether the input is a data input.
    var isData: Bool {
        if case .data = kind { return true }
        return false
    }
}
