import Foundation
import Glibc

/// A fresh directory under the system temporary directory, removed by ``remove()``.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "artifacts-test") {
        var template = Array("\(NSTemporaryDirectory())/\(label)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed: errno \(errno)")
        path = String(cString: created!)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Joins a relative path.
    func at(_ relative: String) -> String { path + "/" + relative }

    /// Writes `text` to `relative`, creating parents.
    @discardableResult
    func write(_ relative: String, _ text: String, mode: Int = 0o644) throws -> String {
        try write(relative, bytes: Array(text.utf8), mode: mode)
    }

    @discardableResult
    func write(_ relative: String, bytes: [UInt8], mode: Int = 0o644) throws -> String {
        let full = at(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        chmod(full, mode_t(mode))
        return full
    }

    func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: at(relative), withIntermediateDirectories: true)
    }
}

func inode(_ path: String) -> UInt64? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return UInt64(info.st_ino)
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}
