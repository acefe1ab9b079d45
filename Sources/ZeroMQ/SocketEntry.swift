/// The loop thread's record of one open socket. Never leaves the loop thread (not `Sendable`).
final class SocketEntry {
    let id: Int
    let type: ZMQSocketType
    let options: ZMQSocketOptions
    /// The libzmq socket; used only on the loop thread.
    let handle: UnsafeMutableRawPointer
    let events: SocketEventSink
    /// Messages accepted by ``ZMQSocket/send(_:)`` but not yet taken by libzmq.
    var outgoing = OutgoingQueue()
    /// ROUTER only: messages for peers whose pipe was full (`EAGAIN` under `ZMQ_ROUTER_MANDATORY`), keyed by
    /// routing id, each in send order; retried when the socket is writable.
    var parked: [[UInt8]: OutgoingQueue] = [:]
    /// The head of `outgoing` hit `EAGAIN` and must go before anything behind it (always so for a DEALER).
    var isHeadBlocked = false
    /// Some queued work is blocked: `zmq_poll` asks for `ZMQ_POLLOUT` on this socket.
    var isWaitingForWritable = false
    /// `ZMQ_POLLOUT` was reported yet nothing blocked could be sent (a ROUTER is writable when *any* peer
    /// is, not necessarily the addressed one): retry on a short timer instead of spinning on `POLLOUT`.
    var isBackingOff = false
    /// A CURVE server: each received message's `User-Id` property (set by the ZAP handler) is read.
    let readsUserID: Bool
    /// A CURVE client's monitor (a PAIR socket receiving its refused handshakes), else `nil`.
    var monitor: UnsafeMutableRawPointer?
    /// The monitor was readable in the latest `zmq_poll`.
    var isMonitorReadable = false
    /// The `revents` of this socket from the latest `zmq_poll` (0 for a socket opened since).
    var lastPollEvents: Int16 = 0

    /// Messages are waiting in `outgoing` or `parked`.
    var hasQueuedMessages: Bool { !outgoing.isEmpty || !parked.isEmpty }

    init(
        id: Int,
        type: ZMQSocketType,
        options: ZMQSocketOptions,
        handle: UnsafeMutableRawPointer,
        events: SocketEventSink
    ) {
        self.id = id
        self.type = type
        self.options = options
        self.handle = handle
        self.events = events
        if case .server = options.curve { readsUserID = true } else { readsUserID = false }
    }
}
