/// Rules and helpers for the relative paths inside a ``TreeManifest``.
public enum TreePath {
    /// Checks that `path` is relative, `/`-separated, non-empty, with no empty, `.` or `..` component and no
    /// NUL byte, so that joining it to a root can never leave that root.
    public static func validate(_ path: String) throws(ArtifactError) {
        func reject(_ why: String) -> ArtifactError {
            ArtifactError(
                code: .unsafePath,
                message: "path '\(escape(path))' \(why); manifest paths must be relative and stay inside the artifact",
                path: path)
        }
        if path.isEmpty { throw reject("is empty") }
        if path.utf8.first == UInt8(ascii: "/") { throw reject("is absolute") }
        if path.utf8.contains(0) { throw reject("contains a NUL byte") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            switch component {
            case "": throw reject("has an empty component")
            case ".": throw reject("has a '.' component")
            case "..": throw reject("has a '..' component")
            default: continue
            }
        }
    }

    /// Byte-wise (UTF-8) order, the order of manifest entries.
    public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    /// Percent-escapes `%`, control characters (newline included) and DEL so that a path fits on one line.
    public static func escape(_ path: String) -> String {
        var needsEscape = false
        for byte in path.utf8 where byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "%") {
            needsEscape = true
            break
        }
        guard needsEscape else { return path }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count + 8)
        for byte in path.utf8 {
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "%") {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reverses ``escape(_:)``; nil when an escape is malformed, not in canonical form (uppercase hex) or
    /// escapes a byte that does not need escaping, or when a byte that needs escaping appears raw.
    public static func unescape(_ text: Substring) -> String? {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F { return nil }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count,
                    let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                let value = high << 4 | low
                guard value < 0x20 || value == 0x7F || value == UInt8(ascii: "%") else { return nil }
                out.append(value)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        guard let string = String(validating: out, as: UTF8.self) else { return nil }
        return string
    }
}
