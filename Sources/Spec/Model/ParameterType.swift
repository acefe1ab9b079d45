/// The literal (non-data) input types of a command component.
enum ParameterType: String, Sendable, CaseIterable {
    case string
    case integer
    case number
    case boolean

    /// The parameter type a literal value gets when an inline job declares it by value.
    init(inferredFrom value: Literal) {
        switch value {
        case .bool: self = .boolean
        case .int: self = .integer
        case .float: self = .number
        case .null, .string, .timestamp: self = .string
        }
    }
}
