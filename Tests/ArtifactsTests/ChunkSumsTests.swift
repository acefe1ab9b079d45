import Crypto
import Foundation
import Testing

@testable import Artifacts

/// Chunk checksums remembered while a blob is hashed, so that a sender need not hash it again.
@Suite("Chunk sums")
struct ChunkSumsTests {
    /// Bytes that differ at every offset, `count` of them.
    private func pattern(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ Int(seed) &+ $0 >> 11) }
    }

    private let granule = Int(ChunkSums.granule)

    @Test("the recorder's values are the prefix checksums at every granule, however the bytes are split",
          arguments: [1, 4_099, 700_000, 1 << 20, 3 << 20])
    func recorderMatchesPrefixChecksums(piece: Int) {
        let bytes = pattern(3 * granule + 12_345)
        var recorder = ChunkSumsRecorder()
        var hasher = SHA256()
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + piece)
            bytes[start..<end].withUnsafeBytes { recorder.feed($0, into: &hasher) }
            start = end
        }
        let digest = SHA256Hasher.digest(of: bytes)
        let sums = recorder.sums(of: digest)
        #expect(sums.size == Int64(bytes.count))
        for boundary in 1...3 {
            let end = boundary * granule
            #expect(sums.checksum(through: Int64(end)) == PrefixChecksum.of(Array(bytes[0..<end])), "at \(end)")
        }
        #expect(sums.checksum(through: Int64(bytes.count)) == PrefixChecksum.of(bytes))
        #expect(sums.checksum(through: Int64(granule + 1)) == nil)  // not a boundary
        #expect(sums.checksum(through: 0) == nil)
        #expect(sums.checksum(through: Int64(bytes.count + granule)) == nil)
    }

    @Test("the checksum through a blob's end is its digest's first 8 bytes")
    func wholeBlobChecksumIsTheDigestPrefix() {
        for count in [0, 1, 5_000, granule + 3] {
            let bytes = pattern(count)
            #expect(ChunkSums.checksum(of: SHA256Hasher.digest(of: bytes)) == PrefixChecksum.of(bytes))
        }
    }

    @Test("importing a file and finishing a writer both remember the blob's sums; a sender then hashes nothing")
    func storesRememberSumsAndSendersUseThem() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let bytes = pattern(5 * granule + 77)
        let digest = SHA256Hasher.digest(of: bytes)

        let producer = try BlobStore(root: dir.at("producer"))
        let source = try dir.write("out.bin", bytes: bytes)
        #expect(try producer.importFile(at: source).digest == digest)
        let imported = try #require(producer.chunkSums.sums(of: digest))
        #expect(imported.size == Int64(bytes.count))

        // The receiver appends 2-granule chunks carrying the producer's checksums, as a transfer does.
        let receiver = try BlobStore(root: dir.at("receiver"))
        let writer = try receiver.openWriter(for: digest, size: Int64(bytes.count))
        var sender = ChunkChecksummer(digest, size: Int64(bytes.count), in: producer)
        var offset = 0
        while offset < bytes.count {
            let chunk = Array(bytes[offset..<min(bytes.count, offset + 2 * granule)])
            let checksum = try sender.checksum(of: chunk, at: Int64(offset), in: producer)
            #expect(try writer.append(chunk, at: Int64(offset), checksum: checksum))
            offset += chunk.count
        }
        #expect(!sender.hashedSomething)
        try writer.finish()
        let received = try #require(receiver.chunkSums.sums(of: digest))
        for end in stride(from: granule, to: bytes.count, by: granule) {
            #expect(received.checksum(through: Int64(end)) == imported.checksum(through: Int64(end)))
        }
    }

    @Test("a refused chunk's checksums are taken back: the sums the receiver keeps are still right")
    func refusedChunksLeaveNoSums() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let bytes = pattern(3 * granule + 99)
        let digest = SHA256Hasher.digest(of: bytes)
        let store = try BlobStore(root: dir.at("store"))
        let writer = try store.openWriter(for: digest, size: Int64(bytes.count))
        let chunk = granule + granule / 2  // chunks cross boundaries, so a refused one had recorded a value
        var offset = 0
        while offset < bytes.count {
            let good = Array(bytes[offset..<min(bytes.count, offset + chunk)])
            let checksum = PrefixChecksum.of(Array(bytes[0..<(offset + good.count)]))
            var damaged = good
            damaged[0] ^= 0x80
            #expect(try !writer.append(damaged, at: Int64(offset), checksum: checksum))
            #expect(try writer.append(good, at: Int64(offset), checksum: checksum))
            offset += good.count
        }
        try writer.finish()
        let sums = try #require(store.chunkSums.sums(of: digest))
        for end in stride(from: granule, to: bytes.count, by: granule) {
            #expect(sums.checksum(through: Int64(end)) == PrefixChecksum.of(Array(bytes[0..<end])), "at \(end)")
        }
    }

    @Test("without remembered sums, or with chunks off the boundaries, the sender hashes and agrees")
    func sendersFallBackToHashing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let bytes = pattern(4 * granule + 5)
        let digest = SHA256Hasher.digest(of: bytes)
        _ = try BlobStore(root: dir.at("store")).importFile(at: dir.write("same.bin", bytes: bytes))
        let forgetful = try BlobStore(root: dir.at("store"))  // the same blobs, opened again: nothing remembered
        #expect(forgetful.contains(digest))
        #expect(forgetful.chunkSums.sums(of: digest) == nil)

        for (store, chunkSize) in [(forgetful, 2 * granule), (try remembering(bytes, in: dir), granule + granule / 3)] {
            var sender = ChunkChecksummer(digest, size: Int64(bytes.count), in: store)
            // Start in the middle, as a resumed transfer does, then go on in order.
            var offset = chunkSize
            while offset < bytes.count {
                let chunk = Array(bytes[offset..<min(bytes.count, offset + chunkSize)])
                let expected = PrefixChecksum.of(Array(bytes[0..<(offset + chunk.count)]))
                #expect(try sender.checksum(of: chunk, at: Int64(offset), in: store) == expected, "at \(offset)")
                offset += chunk.count
            }
            #expect(sender.hashedSomething)
        }
    }

    private func remembering(_ bytes: [UInt8], in dir: TemporaryDirectory) throws -> BlobStore {
        let store = try BlobStore(root: dir.at("remembering"))
        _ = try store.importFile(at: dir.write("remembered.bin", bytes: bytes))
        #expect(store.chunkSums.sums(of: SHA256Hasher.digest(of: bytes)) != nil)
        return store
    }

    @Test("the cache keeps the newest blobs up to its capacity and nothing for one-granule blobs")
    func cacheIsBounded() {
        let cache = ChunkSumsCache(capacity: 3)
        func sums(_ index: Int, size: Int64) -> ChunkSums {
            ChunkSums(digest: SHA256Hasher.digest(ofUTF8: "\(index)"), size: size, values: [])
        }
        cache.record(sums(0, size: ChunkSums.granule))  // fits in one chunk: its digest is enough
        #expect(cache.sums(of: sums(0, size: 0).digest) == nil)
        for index in 1...10 { cache.record(sums(index, size: 3 * ChunkSums.granule)) }
        for index in 1...7 { #expect(cache.sums(of: sums(index, size: 0).digest) == nil, "\(index)") }
        for index in 8...10 { #expect(cache.sums(of: sums(index, size: 0).digest) != nil, "\(index)") }

        // Bounded by the number of checksums too: two blobs of 4 values fit in 10; a third evicts the oldest.
        let byValues = ChunkSumsCache(capacity: 100, maximumValues: 10)
        func withValues(_ index: Int) -> ChunkSums {
            ChunkSums(digest: SHA256Hasher.digest(ofUTF8: "v\(index)"), size: 5 * ChunkSums.granule, values: [1, 2, 3, 4])
        }
        for index in 0..<2 { byValues.record(withValues(index)) }
        #expect(byValues.sums(of: withValues(0).digest) != nil)
        byValues.record(withValues(2))
        #expect(byValues.sums(of: withValues(0).digest) == nil)
        #expect(byValues.sums(of: withValues(1).digest) != nil && byValues.sums(of: withValues(2).digest) != nil)
    }
}
