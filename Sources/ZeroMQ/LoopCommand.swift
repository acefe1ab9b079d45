/// A request from any thread to the loop thread, queued in ``LoopCore`` and executed in submission order.
enum LoopCommand: Sendable {
    /// Create, configure, bind and connect a socket.
    case open(OpenRequest)
    /// Queue one multipart message on a socket, in the given lane.
    case send(socket: Int, frames: [[UInt8]], lane: OutgoingLane)
    /// Close a socket and finish its event stream.
    case close(socket: Int)
    /// Bind the ZAP handler, answering from the allow-list; the reply says whether it could be bound.
    case installZAP(ZMQCurveAllowList, reply: CheckedContinuation<Void, any Error>)
    /// Close the ZAP handler (if any); later handshakes find none.
    case removeZAP(reply: CheckedContinuation<Void, Never>)
}

/// Everything the loop thread needs to open a socket and report back.
struct OpenRequest: Sendable {
    /// The socket's id, unique within its loop.
    var id: Int
    var type: ZMQSocketType
    var options: ZMQSocketOptions
    var bind: [String]
    var connect: [String]
    /// Where received messages and send failures go; finished when the socket closes or fails to open.
    var events: SocketEventSink
    /// Resumed with the bound endpoints (`ZMQ_LAST_ENDPOINT` after each bind) or a ``ZMQError``.
    var reply: CheckedContinuation<[String], any Error>
}
