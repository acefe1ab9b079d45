import Protocol
import Synchronization

/// Stamps outgoing messages with the sender id and increasing message ids.
public final class MessageFactory: Sendable {
    /// The id every envelope carries as its sender.
    public let senderID: String
    private let counter = Atomic<UInt64>(0)

    public init(senderID: String) {
        self.senderID = senderID
    }

    /// A message with a fresh id, answering `cause` (0 for none).
    public func make(_ payload: Payload, cause: UInt64 = 0, bulk: [UInt8] = []) -> Message {
        let id = counter.add(1, ordering: .relaxed).newValue
        let envelope = Envelope(code: payload.code, messageID: id, causeID: cause, senderID: senderID)
        return Message(envelope: envelope, payload: payload, bulk: bulk)
    }
}
