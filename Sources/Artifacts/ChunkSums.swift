import Crypto
import Synchronization

/// A blob's ``PrefixChecksum`` values at every ``granule`` boundary, recorded while the blob was
/// hashed anyway (stored from a step's outputs, or received and verified), so that sending it later
/// costs no hashing.
///
/// A chunk that ends on a granule boundary, or at the end of the blob, takes its checksum from here:
/// the checksum through the end of the blob is the first 8 bytes of the blob's digest, so a blob that
/// fits in one chunk needs no values at all. Chunk sizes are multiples of the granule (1 MiB) by default.
public struct ChunkSums: Sendable {
    /// The distance between recorded checksums: 1 MiB.
    public static let granule: Int64 = 1 << 20

    public let digest: Digest
    public let size: Int64
    /// `values[i]` is the checksum through byte `(i + 1) * granule`.
    let values: [UInt64]

    /// The checksum a chunk ending at `end` carries, when known without hashing.
    public func checksum(through end: Int64) -> UInt64? {
        if end == size { return Self.checksum(of: digest) }
        guard end > 0, end < size, end % Self.granule == 0 else { return nil }
        let index = Int(end / Self.granule) - 1
        return index < values.count ? values[index] : nil
    }

    /// The checksum through the end of a blob: the first 8 bytes of its digest.
    public static func checksum(of digest: Digest) -> UInt64 {
        UInt64(digest.hex.prefix(16), radix: 16) ?? 0
    }
}

/// Feeds bytes to a running SHA-256 in order and records the ``PrefixChecksum`` at every granule
/// boundary they cross; costs one extra SHA-256 finalisation per granule.
struct ChunkSumsRecorder {
    private(set) var hashed: Int64 = 0
    private(set) var values: [UInt64] = []

    /// Hashes `bytes` into `hasher`, recording the checksum at each boundary inside or at their end.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, into hasher: inout SHA256) {
        var start = 0
        while start < bytes.count {
            let toBoundary = Int(ChunkSums.granule - hashed % ChunkSums.granule)
            let take = min(toBoundary, bytes.count - start)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + take)]))
            start += take
            hashed += Int64(take)
            if hashed % ChunkSums.granule == 0 { values.append(PrefixChecksum.value(of: hasher)) }
        }
    }

    /// Forgets what was fed after `offset` (bytes hashed but then refused).
    mutating func rewind(to offset: Int64) {
        hashed = offset
        values.removeLast(values.count - Int(offset / ChunkSums.granule))
    }

    /// The sums of the blob whose bytes were all fed (`digest` is what they hash to).
    func sums(of digest: Digest) -> ChunkSums {
        ChunkSums(digest: digest, size: hashed, values: values)
    }
}

/// Recent blobs' ``ChunkSums``, in memory and bounded, shared by every copy of a ``BlobStore``: the
/// blob a worker just stored from a step's outputs is uploaded next, and the blob the coordinator just
/// received is fetched next, so both send without hashing. A blob not here is checksummed as it is
/// sent (see ``ChunkChecksummer``).
public final class ChunkSumsCache: Sendable {
    /// At most this many blobs' sums are kept; the oldest go first.
    public let capacity: Int
    /// At most this many checksums in all (8 bytes each: 32 MiB by default, the sums of 4 TiB of blobs).
    public let maximumValues: Int
    private struct State {
        var entries: [Digest: ChunkSums] = [:]
        var order: [Digest] = []
        var head = 0
        var values = 0
    }
    private let state = Mutex(State())

    public init(capacity: Int = 4096, maximumValues: Int = 4 << 20) {
        self.capacity = max(1, capacity)
        self.maximumValues = max(1, maximumValues)
    }

    /// Remembers `sums` (a blob that fits in one granule needs none and is not kept, nor one whose sums
    /// alone are over ``maximumValues``).
    public func record(_ sums: ChunkSums) {
        guard sums.size > ChunkSums.granule, sums.values.count <= maximumValues else { return }
        state.withLock { state in
            if state.entries[sums.digest] != nil { return }
            state.entries[sums.digest] = sums
            state.values += sums.values.count
            state.order.append(sums.digest)
            while state.entries.count > capacity || state.values > maximumValues {
                if let evicted = state.entries.removeValue(forKey: state.order[state.head]) {
                    state.values -= evicted.values.count
                }
                state.head += 1
            }
            if state.head > capacity {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// The sums of `digest`, if recorded. They depend only on the content, so they stay true when the
    /// blob is removed and stored again.
    public func sums(of digest: Digest) -> ChunkSums? {
        state.withLock { $0.entries[digest] }
    }
}

/// Where a sender of a blob gets each chunk's checksum: from the blob's ``ChunkSums`` when they are
/// known and the chunk ends on a boundary they cover, else from a running ``PrefixChecksum`` (which
/// reads the blob's prefix once when the sender starts somewhere other than where it left off).
///
/// Not `Sendable` (the running checksum is not): keep one per transfer in the sending actor's state.
public struct ChunkChecksummer {
    public let digest: Digest
    public let size: Int64
    private let sums: ChunkSums?
    private var running: PrefixChecksum?

    /// Whether the sender hashes every chunk it sends and checks the blob's digest before the last one
    /// leaves (see ``init(_:size:in:verifying:)``).
    public let isVerifying: Bool

    /// A checksummer for the stored blob `digest` of `size` bytes, using the sums `store` remembers.
    ///
    /// With `verifying`, every chunk is hashed as it is sent (one SHA-256 pass over what is sent, the
    /// cost the sums otherwise save): a chunk whose running checksum differs from a remembered sum, or
    /// a last chunk after which the blob does not hash to `digest`, throws `hashMismatch` before its
    /// checksum is handed out. The coordinator verifies what it serves this way, so a blob damaged on
    /// its disk is caught by the first read instead of by every worker that fetches it.
    public init(_ digest: Digest, size: Int64, in store: BlobStore, verifying: Bool = false) {
        self.digest = digest
        self.size = size
        self.isVerifying = verifying
        let known = store.chunkSums.sums(of: digest)
        sums = known?.size == size ? known : nil
    }

    /// Whether some chunk so far needed hashing (the tests check that a sender with sums never does).
    public var hashedSomething: Bool { running != nil }

    /// The checksum of `bytes`, the chunk of the blob starting at `offset`.
    public mutating func checksum(of bytes: [UInt8], at offset: Int64, in store: BlobStore) throws(ArtifactError) -> UInt64 {
        let end = offset + Int64(bytes.count)
        if isVerifying { return try verifiedChecksum(of: bytes, at: offset, end: end, in: store) }
        if end == size { return ChunkSums.checksum(of: digest) }
        if let value = sums?.checksum(through: end) { return value }
        if running?.offset != offset {
            running = try PrefixChecksum.resuming(digest, at: offset, in: store)
        }
        return running!.append(bytes)
    }

    /// ``checksum(of:at:in:)`` of a verifying checksummer: always from the running hash, checked
    /// against the remembered sums and, at the end, against the digest.
    private mutating func verifiedChecksum(of bytes: [UInt8], at offset: Int64, end: Int64, in store: BlobStore) throws(ArtifactError) -> UInt64 {
        if running?.offset != offset {
            running = try PrefixChecksum.resuming(digest, at: offset, in: store)
        }
        let value = running!.append(bytes)
        let intact: Bool
        if end == size {
            intact = running!.digest == digest
        } else if let known = sums?.checksum(through: end) {
            intact = known == value
        } else {
            intact = true  // checked at the end
        }
        guard intact else {
            throw ArtifactError(
                code: .hashMismatch,
                message: "stored blob \(digest) does not hash to its name (checked through byte \(end) of \(size)); it is damaged",
                path: store.path(of: digest))
        }
        return value
    }
}
