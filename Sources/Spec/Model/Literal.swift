import Foundation

/// A scalar value as PyYAML's `safe_load` would produce it (YAML 1.1 rules).
///
/// `pythonString` renders it as Python's `str()` does, which is how Azure ML writes literal
/// inputs into a command line.
enum Literal: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// A YAML timestamp, kept as Python's `str()` of the `date`/`datetime` PyYAML builds.
    case timestamp(String)

    /// Python's `str()` of the value: `True`, `1e-05`, `1000000000000000.0`, `None`, ...
    var pythonString: String {
        switch self {
        case .null: return "None"
        case .bool(let value): return value ? "True" : "False"
        case .int(let value): return String(value)
        case .float(let value): return PythonFloatFormat.repr(value)
        case .string(let value): return value
        case .timestamp(let value): return value
        }
    }

    /// The value as a number, when it is one or is text Python's `float()` accepts.
    var numericValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .float(let value): return value
        case .string(let text): return PythonFloatFormat.parseFloat(text)
        case .null, .bool, .timestamp: return nil
        }
    }

    /// The value as an integer, when it is one or is text Python's `int()` accepts.
    var integerValue: Int? {
        switch self {
        case .int(let value): return value
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
            return Int(trimmed.hasPrefix("+") ? String(trimmed.dropFirst()) : trimmed)
        case .float(let value):
            return value.rounded() == value && abs(value) < 9.0e18 ? Int(value) : nil
        case .null, .bool, .timestamp: return nil
        }
    }

    /// The value as a boolean, when it is one or is the text `true`/`false` (any case).
    var booleanValue: Bool? {
        switch self {
        case .bool(let value): return value
        case .string(let text):
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: return nil
            }
        case .null, .int, .float, .timestamp: return nil
        }
    }

    /// A short description of the value's kind for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .float: return "number"
        case .string: return "string"
        case .timestamp: return "date"
        }
    }

    /// The value as it appears in messages: strings quoted, everything else in Python form; a long value is
    /// cut to its start and its length (see `ScalarResolver.abbreviated`).
    var quoted: String {
        if case .string(let text) = self { return "'\(ScalarResolver.abbreviated(text))'" }
        return ScalarResolver.abbreviated(pythonString)
    }
}
