import Foundation
import Glibc
import Testing

@testable import Artifacts

@Suite("Blob store")
struct BlobStoreTests {
    @Test func putReadVerify() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let bytes = Array("hello, blobs".utf8)
        let digest = try store.put(bytes)
        #expect(digest == SHA256Hasher.digest(of: bytes))
        #expect(store.contains(digest))
        #expect(store.size(of: digest) == Int64(bytes.count))
        #expect(store.path(of: digest) == dir.at("store/blobs/\(digest.hex.prefix(2))/\(digest.hex.dropFirst(2))"))
        #expect(try store.read(digest, offset: 0, count: 100) == bytes)
        #expect(try store.read(digest, offset: 7, count: 5) == Array("blobs".utf8))
        #expect(try store.read(digest, offset: 100, count: 5) == [])
        #expect(try store.verify(digest))
        #expect(try store.put(Data(bytes)) == digest)  // idempotent
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("store/tmp")).isEmpty)

        let absent = SHA256Hasher.digest(ofUTF8: "absent")
        #expect(!store.contains(absent))
        #expect(store.size(of: absent) == nil)
        let error = #expect(throws: ArtifactError.self) { try store.read(absent, offset: 0, count: 1) }
        #expect(error?.code == .blobNotFound)
    }

    @Test func verifyDetectsCorruption() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let digest = try store.put(Array("original".utf8))
        let path = store.path(of: digest)
        chmod(path, 0o644)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try store.verify(digest) == false)
    }

    @Test func importFileStreams() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        var content = [UInt8]()
        for index in 0..<(3 * 1024 * 1024 + 17) { content.append(UInt8(truncatingIfNeeded: index &* 31)) }
        let source = try dir.write("big.bin", bytes: content)
        let (digest, size) = try store.importFile(at: source)
        #expect(digest == SHA256Hasher.digest(of: content))
        #expect(size == Int64(content.count))
        #expect(try store.verify(digest))
        #expect(fileMode(store.path(of: digest)) == 0o400)
        #expect(try store.importFile(at: source).digest == digest)  // second import discards its copy
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("store/tmp")).isEmpty)
    }

    @Test func resumableWriter() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let digest = SHA256Hasher.digest(of: content)
        let size = Int64(content.count)

        let first = try store.openWriter(for: digest, size: size)
        #expect(first.offset == 0)
        // A second writer for the same blob is refused while the first is open.
        let busy = #expect(throws: ArtifactError.self) { try store.openWriter(for: digest, size: size) }
        #expect(busy?.code == .writerBusy)
        try first.append(content[0..<3000], at: 0)
        try first.append(content[3000..<5000], at: 3000)
        let wrong = #expect(throws: ArtifactError.self) { try first.append(content[6000..<7000], at: 6000) }
        #expect(wrong?.code == .wrongOffset)
        #expect(throws: ArtifactError.self) { try first.append(content[0..<10], at: 0) }  // duplicate chunk
        #expect(first.offset == 5000)
        first.close()  // interrupted transfer
        #expect(!store.contains(digest))

        let second = try store.openWriter(for: digest, size: size)
        #expect(second.offset == 5000)  // resume
        let early = #expect(throws: ArtifactError.self) { try second.finish() }
        #expect(early?.code == .sizeMismatch)
        let overrun = #expect(throws: ArtifactError.self) { try second.append(content[5000...] + [1], at: 5000) }
        #expect(overrun?.code == .sizeMismatch)
        try second.append(content[5000...], at: 5000)
        #expect(second.isComplete)
        try second.finish()
        #expect(store.contains(digest))
        #expect(try store.verify(digest))
        #expect(try store.read(digest, offset: 0, count: content.count) == content)
        #expect(!FileManager.default.fileExists(atPath: second.partialPath))
        #expect(throws: ArtifactError.self) { try second.append([], at: size) }

        // Once stored, a writer has nothing to do.
        let third = try store.openWriter(for: digest, size: size)
        #expect(third.offset == size)
        try third.finish()
    }

    @Test func aResumedWriterHashesWhatThePartialFileHolds() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let content = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 13) }
        let digest = SHA256Hasher.digest(of: content)
        #expect(store.partialSize(of: digest) == 0)
        let first = try store.openWriter(for: digest, size: 4096)
        try first.append(content[0..<1000], at: 0)
        first.close()
        #expect(store.partialSize(of: digest) == 1000, "where a resumed transfer starts")
        // The kept prefix is damaged on disk before the transfer resumes.
        let handle = try #require(FileHandle(forUpdatingAtPath: first.partialPath))
        try handle.seek(toOffset: 10)
        try handle.write(contentsOf: Data([0xFF]))
        try handle.close()
        let second = try store.openWriter(for: digest, size: 4096)
        #expect(second.offset == 1000)
        try second.append(content[1000...], at: 1000)
        let error = #expect(throws: ArtifactError.self) { try second.finish() }
        #expect(error?.code == .hashMismatch, "the whole blob is verified, the resumed prefix included")
        #expect(!store.contains(digest))
        #expect(store.partialSize(of: digest) == 0)
    }

    @Test func aChunkIsAppendedOnlyIfItMatchesThePrefixChecksum() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        // The first 8 bytes of SHA-256("abc") = ba7816bf 8f01cfea ...
        #expect(PrefixChecksum.of(Array("abc".utf8)) == 0xBA78_16BF_8F01_CFEA)
        let content = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let digest = SHA256Hasher.digest(of: content)
        var sender = PrefixChecksum()
        let first = sender.append(Array(content[0..<10_000]))
        let second = sender.append(Array(content[10_000..<20_000]))
        let writer = try store.openWriter(for: digest, size: Int64(content.count))
        #expect(try writer.append(content[0..<10_000], at: 0, checksum: first))
        var damaged = Array(content[10_000..<20_000])
        damaged[123] ^= 0x10
        #expect(try !writer.append(damaged, at: 10_000, checksum: second), "a damaged chunk is refused")
        #expect(writer.offset == 10_000, "and nothing of it written")
        #expect(try writer.append(content[10_000..<20_000], at: 10_000, checksum: second))
        writer.close()
        // A sender resuming at 20,000 computes the same running checksum from the stored prefix.
        try store.put(content)
        var resumed = try PrefixChecksum.resuming(digest, at: 20_000, in: store)
        #expect(resumed.offset == 20_000)
        var whole = PrefixChecksum()
        _ = whole.append(Array(content[0..<20_000]))
        #expect(resumed.append(Array(content[20_000...])) == whole.append(Array(content[20_000...])))
    }

    @Test func aDamagedLargeChunkWrittenWhileHashedIsCutOffAgain() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let chunk = BlobWriter.parallelWriteBytes * 2
        let content = (0..<(3 * chunk)).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ $0 >> 9) }
        let digest = SHA256Hasher.digest(of: content)
        var sender = PrefixChecksum()
        let sums = (0..<3).map { index in sender.append(Array(content[(index * chunk)..<((index + 1) * chunk)])) }
        let writer = try store.openWriter(for: digest, size: Int64(content.count))
        #expect(try writer.append(content[0..<chunk], at: 0, checksum: sums[0]))
        var damaged = Array(content[chunk..<(2 * chunk)])
        damaged[chunk - 1] ^= 0x01
        #expect(try !writer.append(damaged, at: Int64(chunk), checksum: sums[1]))
        let size = try FileManager.default.attributesOfItem(atPath: writer.partialPath)[.size] as? Int
        #expect(size == chunk, "the damaged bytes written while hashing were cut off")
        writer.close()
        // A writer resuming from the partial file starts after the good chunk and finishes the blob.
        let resumed = try store.openWriter(for: digest, size: Int64(content.count))
        #expect(resumed.offset == Int64(chunk))
        #expect(try resumed.append(content[chunk..<(2 * chunk)], at: Int64(chunk), checksum: sums[1]))
        #expect(try resumed.append(content[(2 * chunk)...], at: Int64(2 * chunk), checksum: sums[2]))
        try resumed.finish()
        #expect(try store.verify(digest))
    }

    @Test func writerRejectsCorruptContent() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let content = Array(repeating: UInt8(42), count: 4096)
        let digest = SHA256Hasher.digest(of: content)
        let writer = try store.openWriter(for: digest, size: 4096)
        var corrupt = content
        corrupt[100] = 0
        try writer.append(corrupt, at: 0)
        let error = #expect(throws: ArtifactError.self) { try writer.finish() }
        #expect(error?.code == .hashMismatch)
        #expect(!store.contains(digest))
        #expect(!FileManager.default.fileExists(atPath: writer.partialPath))
        // A new writer starts over and succeeds.
        let retry = try store.openWriter(for: digest, size: 4096)
        #expect(retry.offset == 0)
        try retry.append(content, at: 0)
        try retry.finish()
        #expect(try store.verify(digest))
    }

    @Test func linkOrCopyMakesHardLinks() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let digest = try store.put(Array("linked".utf8))
        try store.linkOrCopy(digest, to: dir.at("out.txt"))
        #expect(inode(dir.at("out.txt")) == inode(store.path(of: digest)))
        let again = #expect(throws: ArtifactError.self) { try store.linkOrCopy(digest, to: dir.at("out.txt")) }
        #expect(again?.code == .destinationExists)
        let missing = #expect(throws: ArtifactError.self) {
            try store.linkOrCopy(SHA256Hasher.digest(ofUTF8: "nope"), to: dir.at("nope"))
        }
        #expect(missing?.code == .blobNotFound)
    }

    /// 200 MiB through `importFile` and `digest(ofFileAt:)` must not grow the peak RSS by more than 100 MiB.
    @Test func largeImportUsesBoundedMemory() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.at("large.bin")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<200 {
            chunk[0] = UInt8(truncatingIfNeeded: index)
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            #expect(written == chunk.count)
        }
        close(fd)
        let before = peakResidentKiB()
        let store = try BlobStore(root: dir.at("store"))
        let (digest, size) = try store.importFile(at: path)
        let (hashed, _) = try SHA256Hasher.digest(ofFileAt: path)
        #expect(try store.verify(digest))
        let growthMiB = (peakResidentKiB() - before) / 1024
        #expect(size == 200 << 20)
        #expect(hashed == digest)
        #expect(growthMiB < 100, "peak RSS grew by \(growthMiB) MiB")
    }

    private func peakResidentKiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }
}
