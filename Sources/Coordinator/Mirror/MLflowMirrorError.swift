/// A request to the user's MLflow server that did not succeed.
public struct MLflowMirrorError: Error, Sendable, CustomStringConvertible {
    /// What went wrong: an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The server could not be reached, or answered with a server error or "too many
        /// requests": the mirror waits and tries again.
        public static let unavailable = Code("unavailable")
        /// The server refused this request (a 4xx answer): sending it again would not help.
        public static let rejected = Code("rejected")
        /// The server answered with something that is not MLflow's REST API.
        public static let invalidResponse = Code("invalid_response")
    }

    public var code: Code
    /// What happened, and what the user can do about it.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
