import Foundation

/// Turns paths written in YAML into absolute local paths or URIs.
enum PathResolver {
    /// URI schemes passed through as text (`azureml:`, `https://`, `wasbs://`, ...).
    static let remoteSchemes = ["azureml:", "http:", "https:", "wasb:", "wasbs:", "abfs:", "abfss:", "adl:", "runs:"]

    /// `path` made absolute against `directory`, with `.` and `..` folded lexically.
    static func absolute(_ path: String, relativeTo directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The directory holding `file`.
    static func directory(of file: String) -> String {
        (file as NSString).deletingLastPathComponent
    }

    /// Whether `path` is a remote URI rather than a local path.
    static func isRemote(_ path: String) -> Bool {
        let lower = path.lowercased()
        return remoteSchemes.contains { lower.hasPrefix($0) }
    }

    /// The local path of `path` without its optional `file:` prefix.
    static func strippingFileScheme(_ path: String) -> String {
        guard path.lowercased().hasPrefix("file:") else { return path }
        var rest = String(path.dropFirst(5))
        if rest.hasPrefix("//") { rest = String(rest.dropFirst(2)) }
        return rest
    }

    /// A data path as a `DataSource`: remote URIs as text, local paths made absolute and checked to exist.
    static func dataSource(_ path: String, relativeTo directory: String, at location: SourceNode) throws(SpecError) -> DataSource {
        let trimmed = path.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw location.error(.invalidType, "expected a path, found an empty string")
        }
        if isRemote(trimmed) { return .uri(trimmed) }
        let local = absolute(strippingFileScheme(trimmed), relativeTo: directory)
        guard FileManager.default.fileExists(atPath: local) else {
            throw location.error(.fileNotFound, "the data path '\(trimmed)' does not exist (looked for \(local))")
        }
        return .localPath(local)
    }

    /// Whether `path` has a `..` segment (also percent-encoded), which could climb out of a datastore.
    static func hasParentSegment(_ path: String) -> Bool {
        let decoded = path.replacingOccurrences(of: "%2e", with: ".", options: .caseInsensitive)
        return decoded.split(whereSeparator: { $0 == "/" || $0 == "\\" }).contains { $0 == ".." }
    }
}
