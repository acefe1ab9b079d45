/// A ROUTER or DEALER socket owned by a ``ZMQLoop``'s I/O thread; a handle that any thread may use.
///
/// Obtain one from ``ZMQLoop/open(_:options:bind:connect:)``. The handle keeps its loop alive.
public final class ZMQSocket: Sendable {
    /// ROUTER or DEALER.
    public let type: ZMQSocketType
    /// The endpoints this socket bound, as libzmq reports them (`ZMQ_LAST_ENDPOINT`), in the order given:
    /// binding `tcp://127.0.0.1:*` yields the real port, e.g. `tcp://127.0.0.1:41235`. Empty if it only
    /// connects.
    public let endpoints: [String]
    /// Received messages, dropped messages and send failures, in the order they happened. Single consumer;
    /// unbounded buffer (bound the traffic with protocol-level credit). Finishes when the socket or its
    /// loop closes.
    public let events: AsyncStream<ZMQSocketEvent>

    let loop: ZMQLoop
    let id: Int
    /// The socket's CURVE role, for ``ZMQLoop/verifyCurveAuthentication(of:timeout:)``.
    let curve: ZMQCurveRole?

    private let backlog: EventBacklog

    init(
        loop: ZMQLoop, id: Int, type: ZMQSocketType, endpoints: [String], curve: ZMQCurveRole?,
        events: AsyncStream<ZMQSocketEvent>, backlog: EventBacklog
    ) {
        self.backlog = backlog
        self.curve = curve
        self.loop = loop
        self.id = id
        self.type = type
        self.endpoints = endpoints
        self.events = events
    }

    /// Queues one multipart message and returns at once; never blocks, callable from any thread.
    ///
    /// On a ROUTER the first frame must be the destination's routing id. The I/O thread sends frames with
    /// `ZMQ_DONTWAIT`/`ZMQ_SNDMORE` in the order `send` was called; at the high-water mark it keeps the
    /// message queued and retries when the socket is writable, so nothing is dropped for back-pressure.
    /// A DEALER's later messages wait behind a blocked one; a ROUTER keeps order per peer and goes on
    /// sending to other peers (retrying the blocked peer on `POLLOUT` or, as a ROUTER is writable when any
    /// peer is, every millisecond).
    /// Failures (`hostUnreachable` for an unknown ROUTER peer, `messageTooLarge` over this socket's caps,
    /// `invalidArgument` for no frames) arrive as ``ZMQSocketEvent/sendFailed(frames:error:)``. After
    /// ``close()`` or the loop's shutdown, messages are silently ignored.
    /// Events delivered to ``events`` that the consumer has not yet marked taken with
    /// ``eventTaken()``: more than zero means another event can be read without waiting. A
    /// consumer uses it to batch work (one database commit for several messages, say).
    public var pendingEvents: Int { backlog.count.load(ordering: .relaxed) }

    /// Marks one event of ``events`` as taken; call once per event read.
    public func eventTaken() {
        backlog.count.subtract(1, ordering: .relaxed)
    }

    ///
    /// `lane` orders what waits in this process: a ``OutgoingLane/control`` message goes before every
    /// queued ``OutgoingLane/bulk`` one (order is kept within a lane), so a heartbeat never waits behind
    /// chunks this process has not handed to libzmq yet. What libzmq already holds goes first; senders
    /// of bulk keep that small with credit-based flow control.
    public func send(_ frames: [[UInt8]], lane: OutgoingLane = .control) {
        loop.core.submit(.send(socket: id, frames: frames, lane: lane))
    }

    /// Closes the socket on the I/O thread after the messages already queued, then finishes ``events``.
    /// Idempotent; returns at once.
    public func close() {
        loop.core.submit(.close(socket: id))
    }
}
