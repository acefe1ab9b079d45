import Yams

/// Canonical JSON text of a YAML value: keys sorted, no whitespace, scalars typed by YAML 1.1 rules.
///
/// Two environment definitions that mean the same thing produce the same text, so the text can be
/// part of a cache key. `quote(_:)` is shared with the coordinator's cache manifest, so that
/// Conduit has one definition of a canonical JSON string.
public enum CanonicalJSON {
    /// The JSON text of `value`.
    static func encode(_ value: SourceNode) throws(SpecError) -> String {
        var output = ""
        try append(value, to: &output)
        return output
    }

    private static func append(_ value: SourceNode, to output: inout String) throws(SpecError) {
        switch value.node {
        case .mapping:
            let entries = try value.entries().sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            output += "{"
            for (index, entry) in entries.enumerated() {
                if index > 0 { output += "," }
                output += quote(entry.key) + ":"
                try append(entry.value, to: &output)
            }
            output += "}"
        case .sequence:
            output += "["
            for (index, element) in try value.elements().enumerated() {
                if index > 0 { output += "," }
                try append(element, to: &output)
            }
            output += "]"
        case .scalar, .alias:
            switch try value.literal() {
            case .null: output += "null"
            case .bool(let flag): output += flag ? "true" : "false"
            case .int(let number): output += String(number)
            case .float(let number):
                output += number.isFinite ? PythonFloatFormat.repr(number) : quote(PythonFloatFormat.repr(number))
            case .string(let text), .timestamp(let text): output += quote(text)
            }
        }
    }

    /// A JSON object of strings, keys in byte order: the same map always has the same text.
    public static func object(_ values: [String: String]) -> String {
        var text = "{"
        for (index, key) in values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { text += "," }
            text += quote(key) + ":" + quote(values[key]!)
        }
        return text + "}"
    }

    /// A JSON string literal (RFC 8259 escapes; `/` and non-ASCII are written as they are).
    public static func quote(_ text: String) -> String {
        // Most strings need no escape: one pass over the bytes, then a plain copy.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            return "\"" + text + "\""
        }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
