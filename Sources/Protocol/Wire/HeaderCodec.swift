/// Encodes and decodes the binary `Envelope` header.
public enum HeaderCodec {
    /// The two bytes every header starts with.
    public static let magic: (UInt8, UInt8) = (0xC0, 0xD1)
    /// Header size without the sender id.
    public static let fixedSize = 24

    /// The header's bytes.
    public static func encode(_ envelope: Envelope) -> [UInt8] {
        let sender = Array(envelope.senderID.utf8.prefix(255))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fixedSize + sender.count)
        bytes.append(magic.0)
        bytes.append(magic.1)
        append(envelope.version, to: &bytes)
        append(envelope.code.rawValue, to: &bytes)
        append(envelope.messageID, to: &bytes)
        append(envelope.causeID, to: &bytes)
        bytes.append(UInt8(sender.count))
        bytes.append(0)  // flags, reserved
        bytes.append(contentsOf: sender)
        return bytes
    }

    /// Decodes a header from the start of `bytes`; returns the envelope and the bytes used.
    ///
    /// Throws `.truncated` when `bytes` ends before the header does, so a caller that feeds
    /// bytes incrementally can wait for more.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> (Envelope, Int) {
        let bytes = Array(bytes)
        guard bytes.count >= 2 else { throw ProtocolError(.truncated, "header needs \(fixedSize) bytes, got \(bytes.count)") }
        guard bytes[0] == magic.0, bytes[1] == magic.1 else {
            throw ProtocolError(.badMagic, "header does not start with the Conduit magic bytes")
        }
        guard bytes.count >= fixedSize else { throw ProtocolError(.truncated, "header needs \(fixedSize) bytes, got \(bytes.count)") }
        let version = read(UInt16.self, bytes, at: 2)
        let code = MessageCode(rawValue: read(UInt16.self, bytes, at: 4))
        let messageID = read(UInt64.self, bytes, at: 6)
        let causeID = read(UInt64.self, bytes, at: 14)
        let senderLength = Int(bytes[22])
        guard bytes.count >= fixedSize + senderLength else {
            throw ProtocolError(.truncated, "sender id needs \(senderLength) bytes")
        }
        let sender = String(decoding: bytes[fixedSize..<(fixedSize + senderLength)], as: UTF8.self)
        let envelope = Envelope(version: version, code: code, messageID: messageID, causeID: causeID, senderID: sender)
        return (envelope, fixedSize + senderLength)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }

    private static func read<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size {
            value = (value << 8) | T(bytes[offset + index])
        }
        return value
    }
}
