/// Why the HTTP API's access settings were refused: a token file that is unsafe or unusable, an address
/// reachable from other machines without a token, or connection limits out of range.
public struct HTTPAccessError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, open set of error kinds (compare with the static constants).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, e.g. `"token_file_mode"`.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's stable name.
        public var description: String { rawValue }

        /// The token file cannot be opened or read, or is not a regular file.
        public static let unreadableTokenFile = Code(rawValue: "unreadable_token_file")
        /// The token file can be read by its group or by others.
        public static let tokenFileMode = Code(rawValue: "token_file_mode")
        /// The token is empty, too short, too long, or holds characters a header cannot carry.
        public static let invalidToken = Code(rawValue: "invalid_token")
        /// The API would listen on a non-loopback address without a token.
        public static let tokenRequired = Code(rawValue: "token_required")
        /// A connection limit or timeout is out of range.
        public static let invalidSettings = Code(rawValue: "invalid_settings")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong and what to do; never contains the token.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
