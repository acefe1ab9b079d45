import Crypto
import Foundation

/// SHA-256 of bytes in memory or of a file read in fixed-size chunks.
public enum SHA256Hasher {
    /// The chunk size used for streaming reads: 1 MiB.
    public static let chunkSize = 1 << 20

    /// The digest of `bytes`.
    public static func digest(of bytes: some Collection<UInt8>) -> Digest {
        if let digest = bytes.withContiguousStorageIfAvailable({ buffer in
            Digest(bytes: SHA256.hash(data: UnsafeRawBufferPointer(buffer)))
        }) {
            return digest
        }
        return Digest(bytes: SHA256.hash(data: Array(bytes)))
    }

    /// The digest of `data`.
    public static func digest(of data: Data) -> Digest {
        Digest(bytes: SHA256.hash(data: data))
    }

    /// The digest of a string's UTF-8 bytes.
    public static func digest(ofUTF8 text: String) -> Digest {
        digest(of: Array(text.utf8))
    }

    /// Streams the file at `path` through SHA-256 in 1 MiB chunks (constant memory); follows symlinks.
    ///
    /// - Returns: the digest and the number of bytes read.
    /// - Throws: ``ArtifactError`` with code `io` when the file cannot be opened or read.
    public static func digest(ofFileAt path: String) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        let fd = try FileIO.openForReading(path)
        defer { FileIO.close(fd) }
        return try digest(ofDescriptor: fd, path: path)
    }

    /// ``digest(ofFileAt:)`` of a regular file only, refusing a symlink in the last component unless
    /// `followingLinks` (see `FileIO.openRegularFile`).
    static func digest(ofRegularFileAt path: String, followingLinks: Bool) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        let fd = try FileIO.openRegularFile(path, followingLinks: followingLinks)
        defer { FileIO.close(fd) }
        return try digest(ofDescriptor: fd, path: path)
    }

    /// Hashes from the descriptor's current position to end of file.
    static func digest(ofDescriptor fd: Int32, path: String) throws(ArtifactError) -> (digest: Digest, size: Int64) {
        var hasher = SHA256()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileIO.read(fd, into: buffer, path: path)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            size += Int64(count)
        }
        return (Digest(bytes: hasher.finalize()), size)
    }
}
