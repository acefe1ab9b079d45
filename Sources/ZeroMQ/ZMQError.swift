import CZeroMQ

/// An error reported by libzmq or by the ZeroMQ wrapper itself.
///
/// C error numbers become `ZMQError(code:)`, with the message taken from `zmq_strerror`. Compare
/// `code` against the static constants of ``ZMQError/Code`` (an open set: any `errno` value fits).
public struct ZMQError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An error number, as libzmq and POSIX define them; an open set of named constants.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The C error number.
        public var rawValue: Int32

        /// Wraps a C error number.
        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        /// `EAGAIN`: the operation would block (never surfaced by the loop; it retries instead).
        public static let again = Code(rawValue: EAGAIN)
        /// `EHOSTUNREACH`: a ROUTER was asked to send to a routing id it has no connection for.
        public static let hostUnreachable = Code(rawValue: EHOSTUNREACH)
        /// `EINVAL`: an invalid argument, option value or endpoint.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// `EMSGSIZE`: a message breaks the frame or size caps of the socket's options.
        public static let messageTooLarge = Code(rawValue: EMSGSIZE)
        /// `ETERM`: the loop (and its zmq context) has been shut down.
        public static let terminated = Code(rawValue: ETERM)
        /// `EADDRINUSE`: the address to bind is already in use.
        public static let addressInUse = Code(rawValue: EADDRINUSE)
        /// `EPROTONOSUPPORT`: the endpoint's transport is not supported.
        public static let protocolNotSupported = Code(rawValue: EPROTONOSUPPORT)
        /// `EACCES`: a security check failed (for example CURVE handshakes that nothing authenticates).
        public static let permissionDenied = Code(rawValue: EACCES)
        /// `ENOENT`: the endpoint does not exist (for example unbinding an unknown endpoint).
        public static let noSuchEndpoint = Code(rawValue: ENOENT)

        /// The C error number in decimal, followed by libzmq's text for it.
        public var description: String {
            "\(rawValue) (\(String(cString: zmq_strerror(rawValue))))"
        }
    }

    /// What went wrong, as an error number.
    public var code: Code
    /// What went wrong and, where it helps, what the caller should do about it.
    public var message: String

    /// Makes an error with an explicit message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Makes an error from a C error number, with libzmq's text (`zmq_strerror`) as the message.
    public init(code: Int32) {
        self.init(code: Code(rawValue: code), message: String(cString: zmq_strerror(code)))
    }

    /// `message [errno N]`.
    public var description: String {
        "\(message) [errno \(code.rawValue)]"
    }

    /// The error libzmq reported last on this thread (`zmq_errno()`), with `context` prefixed to its text.
    static func last(_ context: String) -> ZMQError {
        let number = zmq_errno()
        return ZMQError(code: Code(rawValue: number), message: "\(context): \(String(cString: zmq_strerror(number)))")
    }
}
