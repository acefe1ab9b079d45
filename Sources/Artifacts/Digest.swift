/// A SHA-256 digest written as 64 lowercase hexadecimal characters: the name of a blob or artifact.
///
/// Encodes (``Codable``) as its hex string. Ordering is the hex strings' order.
public struct Digest: Hashable, Codable, Sendable, CustomStringConvertible, Comparable {
    /// The 64 lowercase hexadecimal characters.
    public let hex: String

    /// Validates `hex`: exactly 64 characters from `0-9a-f`; returns nil otherwise (uppercase included).
    public init?(hex: String) {
        guard Digest.isValid(hex) else { return nil }
        self.hex = hex
    }

    /// Builds a digest from its 32 raw bytes.
    public init(bytes: some Sequence<UInt8>) {
        let table: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0F)])
        }
        precondition(out.count == 64, "a SHA-256 digest has 32 bytes, got \(out.count / 2)")
        self.hex = String(decoding: out, as: UTF8.self)
    }

    /// Validates like ``init(hex:)`` and throws ``ArtifactError/Code/invalidDigest`` on failure.
    public static func parse(_ hex: String) throws(ArtifactError) -> Digest {
        guard let digest = Digest(hex: hex) else {
            throw ArtifactError(
                code: .invalidDigest,
                message: "'\(hex.prefix(80))' is not a SHA-256 digest; expected 64 lowercase hex characters")
        }
        return digest
    }

    /// The hex string.
    public var description: String { hex }

    /// Compares the hex strings.
    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }

    /// Decodes from a string, validating it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text.prefix(80))' is not 64 lowercase hex characters")
        }
        self = digest
    }

    /// Encodes as the hex string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    static func isValid(_ hex: String) -> Bool {
        var count = 0
        for byte in hex.utf8 {
            count += 1
            guard count <= 64, (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) else {
                return false
            }
        }
        return count == 64
    }
}
