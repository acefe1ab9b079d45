#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Free space on file systems.
public enum DiskSpace {
    /// Bytes an unprivileged process may still write on the file system holding `path`
    /// (`f_bavail * f_frsize`); when `path` does not exist yet, its nearest existing ancestor
    /// is asked. Nil when nothing can be asked.
    public static func freeBytes(at path: String) -> Int64? {
        var candidate = path.isEmpty ? "." : path
        while true {
            var info = statvfs()
            if statvfs(candidate, &info) == 0 {
                let bytes = Double(info.f_bavail) * Double(info.f_frsize)
                return bytes >= Double(Int64.max) ? Int64.max : Int64(bytes)
            }
            guard errno == ENOENT || errno == ENOTDIR, let parent = parentPath(candidate) else { return nil }
            candidate = parent
        }
    }

    private static func parentPath(_ path: String) -> String? {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return path == "." ? nil : "." }
        let parent = trimmed[..<slash]
        if parent.isEmpty { return trimmed == "/" ? nil : "/" }
        return String(parent)
    }
}
