import Foundation
import Yams

/// Reads one YAML file into a composed `Yams.Node`, after the safety checks.
///
/// Files over `maximumBytes` are refused unread; the text is scanned by `YAMLSafetyScan` (aliases,
/// keys, depth) before Yams composes it. Yams shares aliased nodes, so composing is cheap once the scan
/// has bounded the expansion.
enum YAMLDocument {
    /// The largest file accepted: 4 MiB.
    static let maximumBytes = 4 * 1024 * 1024

    /// The tag Yams gives untagged plain scalars when something asks for their resolved tag.
    ///
    /// Yams resolves tags lazily and in place (hashing a key does it). With this single catch-all rule
    /// an untagged scalar stays recognisable, and `ScalarResolver` applies the YAML 1.1 rules itself.
    static let plainTag = Tag.Name(rawValue: "tag:conduit.local,2025:plain")

    /// A resolver that marks every untagged scalar with `plainTag`.
    private static let plainResolver: Resolver = {
        do {
            return try Resolver.basic.appending(plainTag, "^")
        } catch {
            preconditionFailure("the catch-all tag pattern must compile: \(error)")
        }
    }()

    /// The root of `file` (an absolute path), or nil for an empty document.
    static func load(file: String) throws -> SourceNode? {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: file)
        } catch {
            throw SpecError(.unreadableFile, file: file, message: "cannot read the file: it does not exist or is not accessible")
        }
        if (attributes[.type] as? FileAttributeType) == .typeDirectory {
            throw SpecError(.unreadableFile, file: file, message: "expected a YAML file, found a directory")
        }
        if let size = attributes[.size] as? Int, size > maximumBytes {
            throw SpecError(
                .tooLarge, file: file,
                message: "the file is \(size) bytes; pipeline files larger than \(maximumBytes) bytes (4 MiB) are refused"
            )
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SpecError(.unreadableFile, file: file, message: "cannot read the file")
        }
        guard data.count <= maximumBytes else {
            throw SpecError(.tooLarge, file: file, message: "pipeline files larger than 4 MiB are refused")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpecError(.unreadableFile, file: file, message: "the file is not valid UTF-8 text")
        }
        return try parse(text, file: file)
    }

    /// The root of `text`, reporting problems against `file`.
    static func parse(_ text: String, file: String, field: String = "") throws -> SourceNode? {
        guard text.utf8.count <= maximumBytes else {
            throw SpecError(.tooLarge, file: file, message: "YAML text larger than 4 MiB is refused")
        }
        try YAMLSafetyScan().check(text, file: file)
        do {
            let parser = try Parser(yaml: text, resolver: plainResolver)
            guard let root = try parser.singleRoot() else { return nil }
            return SourceNode(root, file: file, field: field)
        } catch {
            throw SpecError(.syntax, file: file, message: "YAML error: \(error)")
        }
    }
}
