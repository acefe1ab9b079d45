/// The versions of every asset of one kind in one namespace of a registry: which exist, which is
/// `@latest`, what the next version is, and what creating a version would do. Pure: built from the
/// records a `LocalRegistry` reads.
public struct RegistryIndex: Hashable, Sendable {
    /// Every version, by asset name, oldest first.
    public private(set) var versionsByName: [String: [RegisteredAsset]] = [:]

    public init(_ assets: [RegisteredAsset] = []) {
        for asset in assets { insert(asset) }
    }

    /// Adds (or replaces) one version.
    public mutating func insert(_ asset: RegisteredAsset) {
        var versions = versionsByName[asset.name, default: []]
        versions.removeAll { $0.version == asset.version }
        versions.append(asset)
        versions.sort(by: Self.isOlder)
        versionsByName[asset.name] = versions
    }

    /// Asset names, sorted.
    public var names: [String] { versionsByName.keys.sorted() }

    /// The versions of `name`, oldest first (empty when unknown).
    public func versions(of name: String) -> [RegisteredAsset] { versionsByName[name] ?? [] }

    /// The most recently created version of `name`.
    public func latest(of name: String) -> RegisteredAsset? { versionsByName[name]?.last }

    /// The version a new registration of `name` gets when none is given: one more than the largest
    /// integer version, or `1`.
    public func nextVersion(of name: String) -> String {
        // A version of Int.max has no successor: the next one is counted from the others.
        let numbers = versions(of: name).compactMap { Int($0.version) }.filter { $0 < Int.max }
        return String((numbers.max() ?? 0) + 1)
    }

    /// Why a lookup failed; `message` names what exists.
    public struct LookupError: Error, Hashable, Sendable {
        public var message: String
    }

    /// The version `selector` picks for `name`.
    public func resolve(_ name: String, _ selector: AssetReference.Selector, kind: AssetKind) -> Result<RegisteredAsset, LookupError> {
        guard let versions = versionsByName[name], !versions.isEmpty else {
            let known = names
            let list = known.isEmpty ? "none is registered" : "registered: \(known.joined(separator: ", "))"
            return .failure(LookupError(message: "no \(kind.rawValue) asset named '\(name)' (\(list))"))
        }
        switch selector {
        case .label(let label):
            guard label == "latest" else {
                return .failure(LookupError(message: "label '\(label)' is not supported; only @latest (the most recently created version) is"))
            }
            return .success(versions.last!)
        case .version(let version):
            guard let found = versions.first(where: { $0.version == version }) else {
                let list = versions.map(\.version).joined(separator: ", ")
                return .failure(LookupError(message: "\(kind.rawValue) '\(name)' has no version '\(version)' (versions: \(list))"))
            }
            return .success(found)
        }
    }

    /// What registering content with `digest` as `name` (at `version`, else the next version) does.
    public enum CreateDecision: Hashable, Sendable {
        /// Write this version.
        case create(version: String)
        /// The version exists with the same content: nothing to do.
        case unchanged(version: String)
        /// The version exists with other content: refused.
        case conflict(version: String, suggestion: String)
    }

    public func decideCreate(name: String, version: String?, digest: String) -> CreateDecision {
        let chosen = version ?? nextVersion(of: name)
        guard let existing = versions(of: name).first(where: { $0.version == chosen }) else {
            return .create(version: chosen)
        }
        return existing.digest == digest ? .unchanged(version: chosen) : .conflict(version: chosen, suggestion: nextVersion(of: name))
    }

    // MARK: Names

    /// Why a name is not valid for `kind`, or nil when it is.
    ///
    /// Components follow Azure ML's rule: a lowercase letter first, then lowercase letters, digits and
    /// `_`, at most 255 characters. Data asset names may also hold uppercase letters, `-` and `.`.
    public static func problem(withName name: String, kind: AssetKind) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "the name is empty" }
        guard bytes.count <= 255 else { return "the name has \(bytes.count) characters; at most 255 are allowed" }
        func isLower(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
        func isUpper(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        switch kind {
        case .component:
            guard isLower(bytes[0]) else { return "component name '\(name)' must start with a lowercase letter" }
            guard bytes.allSatisfy({ isLower($0) || isDigit($0) || $0 == UInt8(ascii: "_") }) else {
                return "component name '\(name)' may only hold lowercase letters, digits and _ (a lowercase letter first)"
            }
        case .data:
            guard isLower(bytes[0]) || isUpper(bytes[0]) || isDigit(bytes[0]) else {
                return "data asset name '\(name)' must start with a letter or a digit"
            }
            guard bytes.allSatisfy({ isLower($0) || isUpper($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) else {
                return "data asset name '\(name)' may only hold letters, digits, _, - and ."
            }
        }
        return nil
    }

    /// Why `version` is not a usable version, or nil: letters, digits, `.`, `_` and `-`, a letter or
    /// digit first, at most 64 characters.
    public static func problem(withVersion version: String) -> String? {
        let bytes = Array(version.utf8)
        guard !bytes.isEmpty else { return "the version is empty" }
        guard bytes.count <= 64 else { return "version '\(version)' is longer than 64 characters" }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        guard isAlphanumeric(bytes[0]), bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
            return "version '\(version)' may only hold letters, digits, ., _ and - (a letter or digit first)"
        }
        return nil
    }

    /// Creation order; equal times fall back to the version (numerically when both are integers).
    static func isOlder(_ lhs: RegisteredAsset, _ rhs: RegisteredAsset) -> Bool {
        if lhs.createdAt != rhs.createdAt { return lhs.createdAt < rhs.createdAt }
        if let left = Int(lhs.version), let right = Int(rhs.version) { return left < right }
        return lhs.version < rhs.version
    }
}
