import Protocol

/// The opaque address of a worker connection as the coordinator's transport sees it.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    /// The routing id bytes.
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var description: String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }
}

/// What the coordinator's transport delivers.
public enum CoordinatorTransportEvent: Sendable {
    /// A well-formed message from a peer.
    case message(PeerID, Message)
    /// Bytes from a peer that did not decode; the peer is not trusted further with them.
    case malformed(PeerID, ProtocolError)
    /// A send could not be delivered (the peer is gone).
    case undeliverable(PeerID, reason: String)
}

/// The coordinator's side of the worker protocol: one endpoint, many workers.
///
/// Implemented over ZeroMQ (`ZMQCoordinatorTransport`, a ROUTER socket) and in memory for tests.
public protocol CoordinatorTransport: Sendable {
    /// Incoming events; a single consumer.
    var events: AsyncStream<CoordinatorTransportEvent> { get }
    /// Queues `message` for `peer` without waiting.
    func send(_ message: Message, to peer: PeerID)
    /// Stops delivering and sending.
    func close()
    /// Events already received and not yet taken from ``events`` (0 when unknown): the
    /// coordinator commits once for a burst of messages instead of once per message.
    var pendingEvents: Int { get }
}

extension CoordinatorTransport {
    public var pendingEvents: Int { 0 }
}

/// What a worker's transport delivers.
public enum WorkerTransportEvent: Sendable {
    case message(Message)
    case malformed(ProtocolError)
    /// The coordinator refused this worker's key in the CURVE handshake (it is not on the allow-list,
    /// or was revoked). The transport tries again every second.
    case handshakeRefused(endpoint: String)
}

/// A worker's side of the protocol: one connection to the coordinator.
public protocol WorkerTransport: Sendable {
    /// Incoming events; a single consumer.
    var events: AsyncStream<WorkerTransportEvent> { get }
    /// Queues `message` without waiting.
    func send(_ message: Message)
    /// Stops delivering and sending.
    func close()
}
