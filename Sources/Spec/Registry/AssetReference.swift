import Foundation

/// A reference to a registered asset, as written in a pipeline: `azureml:NAME:VERSION`,
/// `azureml:NAME@LABEL`, or `azureml://registries/REGISTRY/KIND/NAME/versions/VERSION` (or `/labels/LABEL`).
///
/// Parsing is pure: whether the asset exists is for ``RegistryIndex`` to say.
public struct AssetReference: Hashable, Sendable, CustomStringConvertible {
    /// Which namespace of the registry the asset lives in.
    public enum Scope: Hashable, Sendable {
        /// Workspace assets (`azureml:NAME:VERSION`).
        case workspace
        /// A named registry (`azureml://registries/NAME/...`).
        case registry(String)
    }

    /// Which version is meant.
    public enum Selector: Hashable, Sendable {
        case version(String)
        /// A label; only `latest` resolves (``RegistryIndex/resolve(_:_:)`` says so for any other).
        case label(String)
    }

    public var kind: AssetKind
    public var scope: Scope
    public var name: String
    public var selector: Selector

    public init(kind: AssetKind, scope: Scope, name: String, selector: Selector) {
        self.kind = kind
        self.scope = scope
        self.name = name
        self.selector = selector
    }

    /// The reference in its canonical written form.
    public var description: String {
        switch scope {
        case .workspace:
            switch selector {
            case .version(let version): "azureml:\(name):\(version)"
            case .label(let label): "azureml:\(name)@\(label)"
            }
        case .registry(let registry):
            switch selector {
            case .version(let version): "azureml://registries/\(registry)/\(kind.pathComponent)/\(name)/versions/\(version)"
            case .label(let label): "azureml://registries/\(registry)/\(kind.pathComponent)/\(name)/labels/\(label)"
            }
        }
    }

    /// The same asset at a definite version (what `@latest` resolved to).
    public func at(version: String) -> AssetReference {
        AssetReference(kind: kind, scope: scope, name: name, selector: .version(version))
    }

    /// What parsing found.
    public enum ParseResult: Hashable, Sendable {
        /// Not an asset reference (a path, a datastore URI, ...): the caller treats the text as before.
        case notAReference
        case reference(AssetReference)
        /// Looks like an asset reference of this kind but is malformed; the message says what was expected.
        case invalid(String)
    }

    /// Parses `text` as a reference to an asset of `kind`.
    ///
    /// `azureml://datastores/...`, `azureml://jobs/...` and ARM ids (`azureml:/subscriptions/...`) are
    /// `notAReference`; a registry URI for another kind of asset is `invalid`.
    public static func parse(_ text: String, kind: AssetKind) -> ParseResult {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("azureml:") else { return .notAReference }
        let rest = String(trimmed.dropFirst("azureml:".count))
        if rest.hasPrefix("//") {
            return parseRegistryURI(String(rest.dropFirst(2)), kind: kind, text: trimmed)
        }
        if rest.hasPrefix("/") { return .notAReference }
        if let at = rest.firstIndex(of: "@") {
            let name = String(rest[..<at])
            let label = String(rest[rest.index(after: at)...])
            guard !name.isEmpty, !label.isEmpty, !name.contains(":") else {
                return .invalid("'\(trimmed)' is not a valid reference; expected azureml:NAME@LABEL, e.g. azureml:\(kind.example)@latest")
            }
            return .reference(AssetReference(kind: kind, scope: .workspace, name: name, selector: .label(label)))
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            if parts.count == 1, !parts[0].isEmpty {
                return .invalid("'\(trimmed)' names no version; write azureml:\(parts[0]):VERSION or azureml:\(parts[0])@latest")
            }
            return .invalid("'\(trimmed)' is not a valid reference; expected azureml:NAME:VERSION or azureml:NAME@latest")
        }
        return .reference(AssetReference(kind: kind, scope: .workspace, name: parts[0], selector: .version(parts[1])))
    }

    private static func parseRegistryURI(_ path: String, kind: AssetKind, text: String) -> ParseResult {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.first == "registries" else { return .notAReference }
        let expected = "expected azureml://registries/REGISTRY/\(kind.pathComponent)/NAME/versions/VERSION or .../labels/latest"
        guard parts.count >= 4, !parts[1].isEmpty else {
            return .invalid("'\(text)' is not a valid registry reference; \(expected)")
        }
        guard parts[2] == kind.pathComponent else {
            return .invalid("'\(text)' names '\(parts[2])' where \(kind.pathComponent) were expected; \(expected)")
        }
        guard parts.count == 6, !parts[3].isEmpty, !parts[5].isEmpty else {
            return .invalid("'\(text)' is not a valid registry reference; \(expected)")
        }
        let selector: Selector
        switch parts[4] {
        case "versions": selector = .version(parts[5])
        case "labels": selector = .label(parts[5])
        default: return .invalid("'\(text)' is not a valid registry reference; \(expected)")
        }
        return .reference(AssetReference(kind: kind, scope: .registry(parts[1]), name: parts[3], selector: selector))
    }
}

/// The kinds of asset a registry holds.
public enum AssetKind: String, Hashable, Sendable, Codable, CaseIterable {
    case component
    case data

    /// The folder and URI segment for this kind (`components`, `data`).
    public var pathComponent: String {
        switch self {
        case .component: "components"
        case .data: "data"
        }
    }

    /// A name used in examples in messages.
    var example: String {
        switch self {
        case .component: "train"
        case .data: "my-data"
        }
    }
}
