/// Something that happened on a socket, delivered in order on ``ZMQSocket/events``.
public enum ZMQSocketEvent: Sendable, Hashable {
    /// One complete multipart message, frames in order. On a ROUTER the first frame is the sending peer's
    /// routing id. `userID` is the identity the ZAP handler vouched for at the connection's handshake (for a
    /// CURVE client: its public key in Z85, see ``ZMQCurveAllowList``); `nil` on sockets that are not CURVE
    /// servers.
    case message([[UInt8]], userID: String?)
    /// A received message broke one of the caps in ``ZMQSocketOptions`` (frame size, frame count or total
    /// size). It was read to its end and discarded whole; no part of it is delivered.
    case dropped(reason: String)
    /// A message given to ``ZMQSocket/send(_:)`` could not be sent, for example `EHOSTUNREACH` from a
    /// ROUTER whose peer is gone, or `EMSGSIZE` for a message over this socket's own caps. `frames` is the
    /// message as it was given.
    case sendFailed(frames: [[UInt8]], error: ZMQError)
    /// A CURVE client's handshake with `endpoint` was refused by the server's authentication (its key is
    /// not allowed there). The loop connects again after a second; this event comes with every refusal.
    case handshakeRefused(endpoint: String)
}
