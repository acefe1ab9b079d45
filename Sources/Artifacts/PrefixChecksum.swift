import Crypto

/// The checksum a transfer chunk carries: the first 8 bytes (big-endian) of the SHA-256 of the blob's
/// bytes from 0 through the end of the chunk.
///
/// The receiver computes the blob's SHA-256 as it appends anyway (``BlobWriter``), so checking a chunk
/// costs it one extra SHA-256 block, not another pass over the bytes. A sender takes the values from the
/// blob's ``ChunkSums`` when the store remembers them, and otherwise pays one SHA-256 pass over what it
/// sends (see ``ChunkChecksummer``). A chunk that does not match is caught on arrival, dropped and asked for again;
/// the full digest at the end (``BlobWriter/finish()``) still decides whether the blob is stored.
///
/// Keep one per transfer and feed it the chunks in order with ``append(_:)``; to send from another
/// offset (a resumed or rewound transfer), start a new one with ``resuming(_:at:in:)``.
///
/// Not `Sendable`: swift-crypto's `SHA256` is not. Each transfer's checksum lives in the state of the
/// actor that sends it.
public struct PrefixChecksum {
    /// How many bytes of the blob were fed so far: the offset of the next chunk.
    public private(set) var offset: Int64 = 0
    private var hasher = SHA256()

    /// A checksum at offset 0.
    public init() {}

    /// Feeds the next chunk and returns the checksum through its end.
    public mutating func append(_ bytes: [UInt8]) -> UInt64 {
        hasher.update(data: bytes)
        offset += Int64(bytes.count)
        return Self.value(of: hasher)
    }

    /// The full SHA-256 of everything fed so far (the blob's digest once every byte was fed).
    public var digest: Digest { Digest(bytes: hasher.finalize()) }

    /// The checksum of everything `hasher` was fed (without finishing `hasher` itself).
    static func value(of hasher: SHA256) -> UInt64 {
        var value: UInt64 = 0
        for byte in hasher.finalize().prefix(8) { value = value << 8 | UInt64(byte) }
        return value
    }

    /// A checksum at `offset` of a stored blob, from reading its first `offset` bytes.
    public static func resuming(_ digest: Digest, at offset: Int64, in store: BlobStore) throws(ArtifactError) -> PrefixChecksum {
        var checksum = PrefixChecksum()
        var done: Int64 = 0
        while done < offset {
            let bytes = try store.read(digest, offset: done, count: Int(min(Int64(SHA256Hasher.chunkSize), offset - done)))
            if bytes.isEmpty { break }
            checksum.hasher.update(data: bytes)
            done += Int64(bytes.count)
        }
        checksum.offset = done
        return checksum
    }

    /// The checksum of a whole byte string taken as a blob's prefix (for tests and small blobs).
    public static func of(_ bytes: [UInt8]) -> UInt64 {
        var checksum = PrefixChecksum()
        return checksum.append(bytes)
    }
}
