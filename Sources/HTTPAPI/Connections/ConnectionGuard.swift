import Logging
import NIOCore
import Synchronization

/// The shell around ``ConnectionLimiter``: asks it about every accepted connection, closes the refused ones
/// at once, tells it when admitted ones close, and logs its reports.
final class ConnectionGuard: Sendable {
    /// The limiter, shared by the event loops that accept connections.
    let limiter: Mutex<ConnectionLimiter>
    let logger: Logger

    init(settings: HTTPServerSettings, logger: Logger) {
        self.limiter = Mutex(ConnectionLimiter(settings: settings))
        self.logger = logger
    }

    /// Whether `channel`, just accepted, may stay open; when it may, its closing is counted.
    func admit(_ channel: any Channel) -> Bool {
        let address = Self.address(of: channel)
        let actions = limiter.withLock { $0.on(.opened(address: address, at: .now)) }
        var admitted = false
        for action in actions {
            switch action {
            case .admit: admitted = true
            case .refuse: admitted = false
            case .report(let refusals): report(refusals)
            }
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = self.limiter.withLock { $0.on(.closed(address: address)) }
            }
        }
        return admitted
    }

    /// The client's IP address (without the port), which the per-address limit counts by.
    static func address(of channel: any Channel) -> String {
        guard let remote = channel.remoteAddress else { return "unknown" }
        return remote.ipAddress ?? remote.description
    }

    /// One warning line for `refusals`.
    func report(_ refusals: ConnectionLimiter.Refusals) {
        let settings = limiter.withLock { $0.settings }
        let interval = settings.refusalReportInterval.components.seconds
        let message: Logger.Message = switch refusals.limit {
        case .perAddress:
            """
            HTTP: refused \(refusals.count) connection(s) from \(refusals.address) since the last report: it already \
            has \(refusals.openFromAddress) open, the most one address may have (--http-max-connections-per-address \
            \(settings.maximumConnectionsPerAddress)); \(refusals.openInAll) open in all; reported at most once \
            every \(interval)s per address
            """
        case .total:
            """
            HTTP: refused \(refusals.count) connection(s) since the last report (the latest from \(refusals.address)): \
            \(refusals.openInAll) are open, the most the coordinator accepts (--http-max-connections \
            \(settings.maximumConnections)); reported at most once every \(interval)s
            """
        }
        logger.warning(message, metadata: [
            "http.client": "\(refusals.address)", "http.refused": "\(refusals.count)", "http.limit": "\(refusals.limit.rawValue)",
        ])
    }
}
