/// The fixed header of every message: who sent it, what it is, what it answers.
///
/// Binary layout (big-endian), 24 bytes plus the sender id:
/// `magic 0xC0 0xD1` · `version u16` · `code u16` · `message id u64` · `cause id u64` ·
/// `sender length u8` · `flags u8` · `sender id (UTF-8, ≤ 255 bytes)`.
public struct Envelope: Hashable, Sendable {
    /// The protocol version the sender speaks.
    public var version: UInt16
    /// Which message the body holds.
    public var code: MessageCode
    /// Unique per sender; used as the `cause` of replies.
    public var messageID: UInt64
    /// The message this one answers, or 0.
    public var causeID: UInt64
    /// The sender's name (worker name, or `coordinator`).
    public var senderID: String

    public init(version: UInt16 = ProtocolVersion.current, code: MessageCode, messageID: UInt64, causeID: UInt64 = 0, senderID: String) {
        self.version = version
        self.code = code
        self.messageID = messageID
        self.causeID = causeID
        self.senderID = senderID
    }
}

/// The protocol version this build speaks; checked at hello.
public enum ProtocolVersion {
    /// Bumped whenever a message changes incompatibly.
    public static let current: UInt16 = 7
}
