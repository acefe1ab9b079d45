import Foundation
import Glibc
import ZeroMQ

/// CURVE key files: `NAME.secret` (mode 0600: the secret and public key in Z85) and `NAME.public`
/// (the public key alone, to hand to `conduit workers allow` or `--coordinator-key`).
///
/// Secret keys are read only from files (never from the command line, where any user could see
/// them in the process list), and only from files no one else may read.
enum KeyFiles {
    /// Creates `DIRECTORY/NAME.secret` and `DIRECTORY/NAME.public` for a fresh key pair.
    ///
    /// The secret file is created with mode 0600 from the start (never readable by others, even
    /// briefly); neither file may exist already.
    static func generate(name: String, directory: String) throws -> (secret: String, public: String, keys: ZMQCurveKeyPair) {
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
            throw CLIError("--name must be letters, digits, '.', '_' or '-' (not starting with '.'), got \"\(name)\"")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let secretPath = (directory as NSString).appendingPathComponent(name + ".secret")
        let publicPath = (directory as NSString).appendingPathComponent(name + ".public")
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw CLIError("\(path) already exists: choose another --name or --dir (keys are never overwritten)")
        }
        let keys = try ZMQCurveKeyPair.generate()
        let secretText = """
            # Conduit CURVE key pair "\(name)". Secret: keep this file private (mode 0600).
            public-key = \(keys.publicKey.z85)
            secret-key = \(keys.secretKey.z85)

            """
        try write(secretText, to: secretPath, mode: 0o600)
        try write(keys.publicKey.z85 + "\n", to: publicPath, mode: 0o644)
        return (secretPath, publicPath, keys)
    }

    /// The most bytes a key file may hold: a key file is a few lines.
    static let maximumKeyFileBytes = 64 << 10

    /// The key pair in a secret file written by ``generate(name:directory:)``.
    ///
    /// Refuses anything but a regular file (a FIFO, a device or a directory would hang or mislead start-up)
    /// and a file whose mode lets its group or others read or write it.
    static func readSecret(_ path: String) throws -> ZMQCurveKeyPair {
        let text = try readRegularFile(path, kind: "the secret key file") { status in
            let mode = status.st_mode & 0o777
            guard mode & 0o077 == 0 else {
                throw CLIError("the secret key file \(path) may be read by others (mode \(String(mode, radix: 8))): run `chmod 600 \(path)` first")
            }
        }
        let fields = fields(of: text)
        guard let secretText = fields["secret-key"] else {
            throw CLIError("\(path) holds no secret-key line: is it a NAME.secret file from `conduit keys generate`?")
        }
        do {
            let keys = try ZMQCurveKeyPair(secretKey: ZMQCurveKey(z85: secretText))
            if let publicText = fields["public-key"], publicText != keys.publicKey.z85 {
                throw CLIError("\(path): its public-key line does not belong to its secret key; generate a new pair")
            }
            return keys
        } catch let error as ZMQError {
            throw CLIError("\(path): the secret key is unusable: \(error.message)")
        }
    }

    /// A public key given as its Z85 text or as a file holding it (a `NAME.public` file, or a
    /// file with a `public-key = …` line). A file must be a regular file.
    static func readPublicKey(_ keyOrFile: String) throws -> ZMQCurveKey {
        var status = stat()
        let exists = stat(keyOrFile, &status) == 0
        if !exists, let key = try? ZMQCurveKey(z85: keyOrFile) {
            return key
        }
        guard exists else {
            throw CLIError("\(keyOrFile) is neither a public key (40 characters of Z85) nor a readable file")
        }
        let text = try readRegularFile(keyOrFile, kind: "the public key file") { _ in }
        let candidate = fields(of: text)["public-key"]
            ?? text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let candidate, let key = try? ZMQCurveKey(z85: candidate) else {
            throw CLIError("\(keyOrFile) holds no public key (40 characters of Z85)")
        }
        return key
    }

    /// The text of the regular file at `path` (at most ``maximumKeyFileBytes``), after `check` has seen the
    /// status of the file actually opened (not of whatever the name points to a moment later).
    ///
    /// The file is opened without blocking, so a FIFO or a device is refused at once instead of hanging
    /// start-up; every message names `kind` and `path`.
    static func readRegularFile(_ path: String, kind: String, check: (stat) throws -> Void) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else {
            throw CLIError("cannot open \(kind) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CLIError("cannot check \(kind) \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw CLIError("\(kind) \(path) is not a regular file (\(fileType(status.st_mode))); give the path of the key file itself")
        }
        try check(status)
        var bytes = [UInt8](repeating: 0, count: maximumKeyFileBytes + 1)
        var count = 0
        while count < bytes.count {
            let read = bytes.withUnsafeMutableBytes { raw in Glibc.read(descriptor, raw.baseAddress! + count, raw.count - count) }
            if read == 0 { break }
            if read < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read \(kind) \(path): \(String(cString: strerror(errno)))")
            }
            count += read
        }
        guard count <= maximumKeyFileBytes else {
            throw CLIError("\(kind) \(path) is larger than \(maximumKeyFileBytes) bytes: it is not a key file")
        }
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }

    /// What kind of file `mode` describes, for messages.
    private static func fileType(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        default: "not a plain file"
        }
    }

    /// `name = value` lines (comments and blank lines skipped). Z85 may contain `=`, so only the
    /// first ` = ` separates.
    private static func fields(of text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let separator = line.range(of: " = ") else { continue }
            let name = line[..<separator.lowerBound].trimmingCharacters(in: .whitespaces)
            fields[name] = line[separator.upperBound...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// Creates `path` (which must not exist) with `mode` and writes `text`, synced.
    private static func write(_ text: String, to path: String, mode: mode_t) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw CLIError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // The umask may only take bits away; make sure the mode is exactly the one asked for.
        guard fchmod(descriptor, mode) == 0 else {
            throw CLIError("cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += count
        }
        guard fsync(descriptor) == 0 else {
            throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
