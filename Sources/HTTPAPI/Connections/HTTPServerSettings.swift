/// Limits that keep the HTTP API from being starved or from starving the rest of the coordinator: how long a
/// connection may take to send a request head or sit idle, and how many connections may be open at once.
///
/// Workers move their data over ZeroMQ, to the blob store and the database, which need file descriptors of
/// their own: ``fitted(toDescriptorLimit:)`` keeps the HTTP side well below the process's descriptor limit,
/// so that a flood of HTTP connections can never make a running step fail.
public struct HTTPServerSettings: Sendable, Equatable {
    /// The default ``requestHeadTimeout``: 10 seconds.
    public static let defaultRequestHeadTimeout = Duration.seconds(10)
    /// The default ``idleTimeout``: 75 seconds (longer than the clients' own 60-second keep-alive, so a
    /// client closes an idle connection before the coordinator does).
    public static let defaultIdleTimeout = Duration.seconds(75)
    /// The default ``maximumConnections``: 512.
    public static let defaultMaximumConnections = 512
    /// The default ``maximumConnectionsPerAddress``: 64.
    public static let defaultMaximumConnectionsPerAddress = 64
    /// The default ``refusalReportInterval``: one minute.
    public static let defaultRefusalReportInterval = Duration.seconds(60)

    /// How long a new connection may take to deliver a complete request head; then it is closed.
    public var requestHeadTimeout: Duration
    /// How long a connection with no request in progress stays open; then it is closed.
    public var idleTimeout: Duration
    /// The most connections open at once, all clients together; any more are closed at once.
    public var maximumConnections: Int
    /// The most connections open at once from one client address; any more are closed at once.
    public var maximumConnectionsPerAddress: Int
    /// The shortest time between two log lines about refused connections from the same address.
    public var refusalReportInterval: Duration

    /// Settings with the documented defaults, or the values given.
    ///
    /// - Throws: ``HTTPAccessError`` `invalidSettings` for a timeout that is not positive, or a limit below 1.
    public init(
        requestHeadTimeout: Duration = HTTPServerSettings.defaultRequestHeadTimeout,
        idleTimeout: Duration = HTTPServerSettings.defaultIdleTimeout,
        maximumConnections: Int = HTTPServerSettings.defaultMaximumConnections,
        maximumConnectionsPerAddress: Int = HTTPServerSettings.defaultMaximumConnectionsPerAddress,
        refusalReportInterval: Duration = HTTPServerSettings.defaultRefusalReportInterval
    ) throws(HTTPAccessError) {
        func invalid(_ message: String) -> HTTPAccessError { HTTPAccessError(code: .invalidSettings, message: message) }
        guard requestHeadTimeout > .zero else { throw invalid("the HTTP request-head timeout must be positive (--http-header-timeout SECONDS)") }
        guard idleTimeout > .zero else { throw invalid("the HTTP idle timeout must be positive (--http-idle-timeout SECONDS)") }
        guard maximumConnections >= 1 else { throw invalid("the HTTP connection limit must be at least 1 (--http-max-connections N)") }
        guard maximumConnectionsPerAddress >= 1 else {
            throw invalid("the HTTP connection limit per address must be at least 1 (--http-max-connections-per-address N)")
        }
        guard refusalReportInterval >= .zero else { throw invalid("the refusal report interval must not be negative") }
        self.requestHeadTimeout = requestHeadTimeout
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.refusalReportInterval = refusalReportInterval
    }

    /// The defaults.
    public static var standard: HTTPServerSettings {
        // The defaults satisfy every check of the initializer.
        try! HTTPServerSettings()
    }

    /// Descriptors kept for everything but HTTP connections (ZeroMQ, the blob store, the database, logs):
    /// half the limit, and never fewer than 256.
    public static func reservedDescriptors(limit: Int) -> Int { max(256, limit / 2) }

    /// These settings with ``maximumConnections`` lowered, when needed, so that HTTP connections (each counted
    /// as two descriptors: its socket and a blob file it may be writing) fit in what `limit` descriptors leave
    /// after ``reservedDescriptors(limit:)``; at least one connection is always allowed.
    ///
    /// - Returns: the settings, and whether the connection limit was lowered.
    public func fitted(toDescriptorLimit limit: Int) -> (settings: HTTPServerSettings, lowered: Bool) {
        let available = max(1, (limit - Self.reservedDescriptors(limit: limit)) / 2)
        guard maximumConnections > available else { return (self, false) }
        var fitted = self
        fitted.maximumConnections = available
        fitted.maximumConnectionsPerAddress = min(maximumConnectionsPerAddress, available)
        return (fitted, true)
    }
}
