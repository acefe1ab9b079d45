import Foundation
import Glibc
import Testing

@testable import Artifacts

/// A blob changed in place on disk is caught by the reader that serves it, moved to quarantine, and
/// replaced by the next store of the right bytes; the store's files are owner-only.
@Suite("Blob integrity")
struct BlobIntegrityTests {
    /// Overwrites the stored blob's bytes in place, keeping its size (a disk that flips bits).
    static func damageInPlace(_ store: BlobStore, _ digest: Digest, at offset: Int = 0) throws {
        let path = store.path(of: digest)
        chmod(path, 0o600)
        let fd = open(path, O_WRONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let reader = open(path, O_RDONLY)
        var byte: UInt8 = 0
        _ = pread(reader, &byte, 1, off_t(offset))
        close(reader)
        var flipped = byte ^ 0xFF
        #expect(pwrite(fd, &flipped, 1, off_t(offset)) == 1)
        chmod(path, 0o400)
    }

    /// Sends the whole blob through a verifying checksummer, as the coordinator serves a fetch.
    static func serve(_ store: BlobStore, _ digest: Digest, chunk: Int) throws {
        let size = try #require(store.size(of: digest))
        var checksummer = ChunkChecksummer(digest, size: size, in: store, verifying: true)
        var offset: Int64 = 0
        while offset < size {
            let bytes = try store.read(digest, offset: offset, count: chunk)
            _ = try checksummer.checksum(of: bytes, at: offset, in: store)
            offset += Int64(bytes.count)
        }
    }

    @Test func aVerifyingSenderRefusesABlobChangedInPlaceBeforeItsLastChunk() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let small = try store.put(Array("a small blob, one chunk".utf8))
        try Self.serve(store, small, chunk: 1 << 20)  // intact: no error
        try Self.damageInPlace(store, small, at: 3)
        #expect(store.size(of: small) == 23, "same size: a size check cannot see it")
        let error = #expect(throws: ArtifactError.self) { try Self.serve(store, small, chunk: 1 << 20) }
        #expect(error?.code == .hashMismatch)

        // A large blob whose chunk sums are remembered (a sender that does not hash would miss it).
        var content = [UInt8](repeating: 0, count: 3 << 20)
        for index in content.indices { content[index] = UInt8(truncatingIfNeeded: index &* 7) }
        let source = try dir.write("big", bytes: content)
        let (big, _) = try store.importFile(at: source)
        #expect(store.chunkSums.sums(of: big) != nil)
        try Self.serve(store, big, chunk: 1 << 20)
        try Self.damageInPlace(store, big, at: 100)
        let bigError = #expect(throws: ArtifactError.self) { try Self.serve(store, big, chunk: 1 << 20) }
        #expect(bigError?.code == .hashMismatch)
        #expect(bigError?.message.contains("through byte 1048576") == true, "caught at the first chunk: \(bigError?.message ?? "")")
    }

    @Test func aQuarantinedBlobIsGoneUntilTheRightBytesAreStoredAgain() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let bytes = Array("the right bytes".utf8)
        let digest = try store.put(bytes)
        try Self.damageInPlace(store, digest)
        #expect(try store.put(bytes) == digest)
        #expect(try store.verify(digest) == false, "a store of the same bytes does not repair a damaged blob in place")

        let moved = try #require(try store.quarantine(digest))
        #expect(moved == dir.at("store/quarantine/\(digest.hex)"))
        #expect(FileManager.default.fileExists(atPath: moved), "the bad bytes are kept for inspection")
        #expect(!store.contains(digest))
        #expect(store.isQuarantined(digest))
        #expect(try store.quarantine(digest) == nil)

        // An upload of the right bytes takes its place.
        let writer = try store.openWriter(for: digest, size: Int64(bytes.count))
        try writer.append(bytes, at: 0)
        try writer.finish()
        #expect(store.contains(digest))
        #expect(try store.verify(digest))
        #expect(!store.isQuarantined(digest))
    }

    @Test func temporaryFilesAreRemovedOnRequest() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let digest = SHA256Hasher.digest(of: Array("never finished".utf8))
        let writer = try store.openWriter(for: digest, size: 14)
        try writer.append(Array("never".utf8), at: 0)
        writer.close()
        #expect(store.partialSize(of: digest) == 5)
        let removed = store.removeTemporaryFiles()
        #expect(removed.files == 1 && removed.bytes == 5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("store/tmp")).isEmpty)
    }

    @Test func directoriesAndFilesAreOwnerOnly() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let digest = try store.put(Array("secret output".utf8))
        for directory in ["store", "store/blobs", "store/tmp", "store/blobs/\(digest.hex.prefix(2))"] {
            #expect(fileMode(dir.at(directory)) == 0o700, "\(directory)")
        }
        #expect(fileMode(store.path(of: digest)) == 0o400)
        let partial = SHA256Hasher.digest(of: Array("partial".utf8))
        let writer = try store.openWriter(for: partial, size: 7)
        #expect(fileMode(writer.partialPath) == 0o600)
        writer.discard()
        try store.quarantine(digest)
        #expect(fileMode(dir.at("store/quarantine")) == 0o700)
    }
}
