/// Why bytes could not be decoded into a message.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An open set of error kinds.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// More bytes are needed (only from incremental decoding).
        public static let truncated = Code(rawValue: "truncated")
        /// The header does not start with the magic bytes.
        public static let badMagic = Code(rawValue: "bad-magic")
        /// A message code this version does not know.
        public static let unknownCode = Code(rawValue: "unknown-code")
        /// The body is not valid for its code.
        public static let badBody = Code(rawValue: "bad-body")
        /// The frame count is wrong for the message.
        public static let badFrames = Code(rawValue: "bad-frames")
        /// A value is out of its allowed range.
        public static let tooLarge = Code(rawValue: "too-large")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
