/// An error a client of the coordinator can act on.
public struct CoordinatorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An open set of error kinds; each maps to an HTTP status in the API.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let notFound = Code(rawValue: "not-found")
        public static let invalidRequest = Code(rawValue: "invalid-request")
        public static let conflict = Code(rawValue: "conflict")
        public static let storage = Code(rawValue: "storage")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
