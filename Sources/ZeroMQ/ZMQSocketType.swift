/// The kinds of zmq socket Conduit uses.
public enum ZMQSocketType: Sendable, Hashable, CustomStringConvertible {
    /// `ZMQ_ROUTER`, used by the coordinator. Received messages start with the peer's routing-id frame and
    /// messages to send must start with one. Opened with `ZMQ_ROUTER_MANDATORY` on, so a send to an unknown
    /// peer fails with ``ZMQError/Code/hostUnreachable`` instead of vanishing.
    case router
    /// `ZMQ_DEALER`, one per worker. Messages carry no routing-id frame on this side.
    case dealer

    /// `router` or `dealer`.
    public var description: String {
        switch self {
        case .router: "router"
        case .dealer: "dealer"
        }
    }
}
