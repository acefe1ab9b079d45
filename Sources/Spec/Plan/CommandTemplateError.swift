/// Why a step's command cannot be rendered safely.
///
/// Conduit places each `${{ }}` value according to the `bash` quoting around it; when it cannot
/// tell what that quoting is (an unterminated quote) or cannot pass a value safely there (inside
/// backquotes, inside `${ }`), it refuses the command with this error instead of guessing.
public struct CommandTemplateError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The kind of problem; an open set of constants.
    public var code: Code
    /// What is wrong and how to write the command instead.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension CommandTemplateError {
    /// A kind of `CommandTemplateError`. New kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name of the code (`unterminated_quote`).
        public let rawValue: String

        /// Creates a code from its stable name.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public var description: String { rawValue }

        /// A quote, `$( )`, `${ }`, backquote or arithmetic expression is never closed.
        public static let unterminated = Code(rawValue: "unterminated")
        /// A value sits where Conduit cannot pass it safely (backquotes, `${ }`, right after `\` or `$`).
        public static let unsupportedPlace = Code(rawValue: "unsupported_place")
        /// A value inside shell arithmetic is not a plain integer.
        public static let notAnInteger = Code(rawValue: "not_an_integer")
        /// A value that bash would run if the command evaluated it as arithmetic anywhere (an array
        /// subscript holding `$` or a backquote, as in `a[$(cmd)]`).
        public static let arithmeticHazard = Code(rawValue: "arithmetic_hazard")
    }
}
