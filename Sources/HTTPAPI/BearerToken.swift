import Glibc

/// The secret clients present as `Authorization: Bearer TOKEN` when the HTTP API listens beyond loopback.
///
/// A token is only ever read from a file that its owner alone can read (mode 0600 or stricter), never taken
/// from the command line, where other users could see it in the process list. The value never appears in
/// `description`, so interpolating a token into a log line or an error shows `<redacted>`.
public struct BearerToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The fewest characters a token may have.
    public static let minimumLength = 16
    /// The most bytes a token file may hold.
    public static let maximumFileBytes = 4096

    /// The token's bytes (visible ASCII, no spaces).
    let bytes: [UInt8]

    /// Checks and wraps `text` (visible ASCII without spaces, at least ``minimumLength`` characters).
    public init(_ text: String) throws(HTTPAccessError) {
        let bytes = Array(text.utf8)
        guard bytes.count >= Self.minimumLength else {
            throw HTTPAccessError(
                code: .invalidToken,
                message: "the token is shorter than \(Self.minimumLength) characters; make one with "
                    + "`openssl rand -hex 32 > FILE && chmod 600 FILE`")
        }
        guard bytes.count <= Self.maximumFileBytes, bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw HTTPAccessError(
                code: .invalidToken,
                message: "the token must be visible ASCII characters without spaces, at most "
                    + "\(Self.maximumFileBytes) bytes; make one with `openssl rand -hex 32 > FILE`")
        }
        self.bytes = bytes
    }

    /// Reads the token from `path`: a regular file of mode 0600 or stricter holding the token, optionally
    /// followed by a newline.
    ///
    /// - Throws: ``HTTPAccessError`` `tokenFileMode` when the group or others may read or write the file
    ///   (the message says `chmod 600 FILE`), `unreadableTokenFile`, or `invalidToken`. No message contains
    ///   the file's content.
    public init(readingFile path: String) throws(HTTPAccessError) {
        func unreadable(_ why: String) -> HTTPAccessError {
            HTTPAccessError(code: .unreadableTokenFile, message: "token file '\(path)' \(why)")
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw unreadable("cannot be opened: \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw unreadable("cannot be examined: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw unreadable("is not a regular file") }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw HTTPAccessError(
                code: .tokenFileMode,
                message: "token file '\(path)' has mode \(String(permissions, radix: 8)), so other users may read it; "
                    + "run `chmod 600 \(path)`")
        }
        var buffer = [UInt8](repeating: 0, count: Self.maximumFileBytes + 1)
        var count = 0
        while count < buffer.count {
            let read = buffer.withUnsafeMutableBytes { raw in Glibc.read(fd, raw.baseAddress! + count, raw.count - count) }
            if read == 0 { break }
            if read < 0 {
                if errno == EINTR { continue }
                throw unreadable("cannot be read: \(String(cString: strerror(errno)))")
            }
            count += read
        }
        guard count <= Self.maximumFileBytes else { throw unreadable("is larger than \(Self.maximumFileBytes) bytes") }
        var content = buffer[0..<count]
        while let last = content.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            content = content.dropLast()
        }
        guard let text = String(validating: content, as: UTF8.self) else {
            throw HTTPAccessError(code: .invalidToken, message: "token file '\(path)' is not text")
        }
        do throws(HTTPAccessError) {
            self = try BearerToken(text)
        } catch {
            throw HTTPAccessError(code: error.code, message: "token file '\(path)': \(error.message)")
        }
    }

    /// The value of an `Authorization` header carrying this token.
    public var authorizationValue: String { "Bearer " + String(decoding: bytes, as: UTF8.self) }

    /// Whether `presented` equals the token, in time that depends only on the token's length (no early
    /// exit on the first differing byte).
    public func matches(_ presented: some Collection<UInt8>) -> Bool {
        let presented = Array(presented)
        var difference: UInt8 = presented.count == bytes.count ? 0 : 1
        for index in bytes.indices {
            let other = index < presented.count ? presented[index] : 0
            difference |= bytes[index] ^ other
        }
        return difference == 0
    }

    /// `<redacted>`: the token never reaches a log or a message.
    public var description: String { "<redacted>" }

    /// `BearerToken(<redacted>)`.
    public var debugDescription: String { "BearerToken(<redacted>)" }

    /// No children, so `dump` and debuggers do not show the bytes either.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
