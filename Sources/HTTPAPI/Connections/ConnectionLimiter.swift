/// Decides which HTTP connections to admit, by client address and in all, and when to report refusals: a
/// pure core (events in, actions out; no sockets, no clock) that ``ConnectionGuard`` drives.
///
/// A connection beyond ``HTTPServerSettings/maximumConnectionsPerAddress`` from its address, or beyond
/// ``HTTPServerSettings/maximumConnections`` in all, is refused. Refusals are reported at most once per
/// address per ``HTTPServerSettings/refusalReportInterval``: the first refusal is reported at once, and the
/// next report, at the first refusal after the interval, counts every refusal since the last one.
public struct ConnectionLimiter: Sendable {
    /// Something that happened to a connection.
    public enum Event: Sendable, Equatable {
        /// A client at `address` opened a connection at `time`.
        case opened(address: String, at: ContinuousClock.Instant)
        /// An admitted connection from `address` closed.
        case closed(address: String)
    }

    /// What the shell must do.
    public enum Action: Sendable, Equatable {
        /// Keep the connection.
        case admit
        /// Close the connection at once, unread.
        case refuse
        /// Log one line about refusals from an address.
        case report(Refusals)
    }

    /// Which limit refused a connection.
    public enum Limit: String, Sendable, Equatable {
        /// ``HTTPServerSettings/maximumConnectionsPerAddress``.
        case perAddress = "per_address"
        /// ``HTTPServerSettings/maximumConnections``.
        case total
    }

    /// Refusals since the last report, for one log line: from one address that reached its own limit, or
    /// from every address together when the total limit refused them (so that many addresses still make one
    /// line per interval).
    public struct Refusals: Sendable, Equatable {
        /// The limit that refused these connections.
        public var limit: Limit
        /// The client address for ``Limit/perAddress``; for ``Limit/total``, the latest address refused.
        public var address: String
        /// Connections refused since the last report of the same kind (this one included).
        public var count: Int
        /// Connections open from ``address``.
        public var openFromAddress: Int
        /// Connections open in all.
        public var openInAll: Int
    }

    /// When refusals of one kind were last reported, and how many have not been.
    struct ReportState: Sendable, Equatable {
        var last: ContinuousClock.Instant
        var unreported = 0
    }

    /// The key of total-limit refusals in ``reports``.
    static let everyAddress = "*"

    /// The limits applied.
    public let settings: HTTPServerSettings
    /// Connections admitted and not yet closed.
    public private(set) var openConnections = 0
    /// Open connections by address (addresses with none are absent).
    private(set) var openByAddress: [String: Int] = [:]
    /// Report state by address, and under ``everyAddress`` for the total limit.
    private(set) var reports: [String: ReportState] = [:]

    /// A limiter with no connection open.
    public init(settings: HTTPServerSettings) {
        self.settings = settings
    }

    /// Connections open from `address`.
    public func openConnections(from address: String) -> Int { openByAddress[address] ?? 0 }

    /// Applies `event`; an `opened` event answers `admit` or `refuse` first, maybe followed by `report`.
    public mutating func on(_ event: Event) -> [Action] {
        switch event {
        case .opened(let address, let time):
            let open = openByAddress[address] ?? 0
            let limit: Limit? =
                open >= settings.maximumConnectionsPerAddress ? .perAddress
                : openConnections >= settings.maximumConnections ? .total : nil
            guard let limit else {
                openByAddress[address] = open + 1
                openConnections += 1
                return [.admit]
            }
            forgetOldReports(at: time)
            let key = limit == .perAddress ? address : Self.everyAddress
            if var state = reports[key], state.last.duration(to: time) < settings.refusalReportInterval {
                state.unreported += 1
                reports[key] = state
                return [.refuse]
            }
            let count = (reports[key]?.unreported ?? 0) + 1
            reports[key] = ReportState(last: time)
            let refusals = Refusals(
                limit: limit, address: address, count: count, openFromAddress: open, openInAll: openConnections)
            return [.refuse, .report(refusals)]
        case .closed(let address):
            guard let open = openByAddress[address], open > 0 else { return [] }
            openByAddress[address] = open == 1 ? nil : open - 1
            openConnections -= 1
            return []
        }
    }

    /// Drops reports older than the interval once there are more than connections may be open, so that many
    /// addresses cannot grow the table without bound (their unreported counts are dropped with them).
    private mutating func forgetOldReports(at time: ContinuousClock.Instant) {
        guard reports.count > settings.maximumConnections + 1 else { return }
        reports = reports.filter { _, state in state.last.duration(to: time) < settings.refusalReportInterval }
    }
}
