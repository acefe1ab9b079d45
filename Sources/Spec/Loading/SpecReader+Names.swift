/// The names a pipeline gives to steps, inputs and outputs.
///
/// These names become directory names (`outputs/NAME` in an attempt directory, `--output-dir DIR/NAME`),
/// environment-variable suffixes and parts of `${{...}}` bindings, so they are checked when the file is
/// read: a name such as `..`, `a/b` or `/etc` never reaches a path.
extension SpecReader {
    /// What an input or output name is, for messages.
    enum NameKind: String {
        case input, output
    }

    /// Checks an input or output name against Azure ML's rule: ASCII letters, digits and `_`, not starting
    /// with a digit (a Python identifier). `node` is the entry's value, which locates the error.
    static func checkName(_ name: String, of kind: NameKind, at node: SourceNode) throws(SpecError) {
        let bytes = Array(name.utf8)
        func isLetterOrUnderscore(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        guard let first = bytes.first, isLetterOrUnderscore(first),
              bytes.allSatisfy({ isLetterOrUnderscore($0) || isDigit($0) }) else {
            throw node.error(
                .invalidName,
                "\(kind.rawValue) name '\(Self.printable(name))' is not valid; expected ASCII letters, digits and '_', "
                    + "not starting with a digit (e.g. training_data)"
            )
        }
    }

    /// Checks a step name (a key under `jobs:`): letters, digits, `_` and `-`, so never `.`, `..` or a `/`.
    static func checkStepName(_ name: String, at node: SourceNode) throws(SpecError) {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw node.error(
                .invalidName,
                "step name '\(Self.printable(name))' is not valid; expected letters, digits, '_' and '-' (e.g. prep_data)"
            )
        }
    }

    /// `name` with control characters shown as `\u{…}`, so a message stays on one line.
    private static func printable(_ name: String) -> String {
        var text = ""
        for scalar in name.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                text += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text
    }
}
