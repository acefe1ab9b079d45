/// Ignore rules in `.gitignore` syntax, evaluated against paths relative to the snapshot root.
///
/// Supported: blank lines and `#` comments; trailing spaces trimmed unless escaped with `\`; `\#` and `\!`
/// for literal leading characters; `!` negation (the last matching rule wins); a trailing `/` matches
/// directories only; a pattern with a `/` at its start or middle is anchored at the root (a leading `/` is
/// dropped), otherwise it matches the name at any depth; `*` and `?` (never matching `/`), `[...]` classes
/// (with `!`/`^` negation and ranges), and `**` (`**/x` at any depth, `x/**` everything inside, `a/**/b`
/// zero or more directories). As in git, a file inside an ignored directory cannot be re-included, because
/// the walk never enters that directory.
public struct IgnoreRules: Sendable, Hashable {
    struct Rule: Sendable, Hashable {
        var pattern: [UInt8]
        var isNegated: Bool
        var directoryOnly: Bool
        var isAnchored: Bool
    }

    private(set) var rules: [Rule]

    /// No rules: nothing is ignored.
    public static let none = IgnoreRules(rules: [])

    private init(rules: [Rule]) { self.rules = rules }

    /// Parses the text of an ignore file.
    public init(parsing text: String) {
        var rules: [Rule] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = Array(rawLine.utf8)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            // Trim trailing spaces unless escaped.
            while line.last == UInt8(ascii: " ") {
                if line.count >= 2 && line[line.count - 2] == UInt8(ascii: "\\") {
                    line.remove(at: line.count - 2)
                    break
                }
                line.removeLast()
            }
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            var negated = false
            if first == UInt8(ascii: "!") {
                negated = true
                line.removeFirst()
            } else if first == UInt8(ascii: "\\"), line.count > 1,
                line[1] == UInt8(ascii: "#") || line[1] == UInt8(ascii: "!")
            {
                line.removeFirst()
            }
            var directoryOnly = false
            if line.last == UInt8(ascii: "/") {
                directoryOnly = true
                while line.last == UInt8(ascii: "/") { line.removeLast() }
            }
            guard !line.isEmpty else { continue }
            let anchored = line.contains(UInt8(ascii: "/"))
            while line.first == UInt8(ascii: "/") { line.removeFirst() }
            guard !line.isEmpty else { continue }
            rules.append(Rule(pattern: line, isNegated: negated, directoryOnly: directoryOnly, isAnchored: anchored))
        }
        self.rules = rules
    }

    /// Whether there are no rules.
    public var isEmpty: Bool { rules.isEmpty }

    /// Whether `path` (relative to the root, `/`-separated) is ignored by the rules themselves. Callers
    /// walking a tree must also skip everything under an ignored directory.
    public func isIgnored(_ path: String, isDirectory: Bool) -> Bool {
        let full = Array(path.utf8)
        let name: ArraySlice<UInt8>
        if let slash = full.lastIndex(of: UInt8(ascii: "/")) {
            name = full[(slash + 1)...]
        } else {
            name = full[...]
        }
        for rule in rules.reversed() {
            if rule.directoryOnly && !isDirectory { continue }
            let matched =
                rule.isAnchored
                ? Self.wildmatch(rule.pattern[...], full[...])
                : Self.wildmatch(rule.pattern[...], name)
            if matched { return !rule.isNegated }
        }
        return false
    }

    /// `fnmatch` with `FNM_PATHNAME` semantics plus git's `**` rules.
    static func wildmatch(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/")
        var p = pattern.startIndex
        var t = text.startIndex
        while p < pattern.endIndex {
            let c = pattern[p]
            switch c {
            case UInt8(ascii: "?"):
                guard t < text.endIndex, text[t] != slash else { return false }
                p += 1
                t += 1
            case UInt8(ascii: "*"):
                var q = p
                while q < pattern.endIndex && pattern[q] == UInt8(ascii: "*") { q += 1 }
                let isDouble = q - p >= 2
                let atStart = p == pattern.startIndex || pattern[p - 1] == slash
                let atEnd = q == pattern.endIndex || pattern[q] == slash
                if isDouble && atStart && atEnd {
                    if q == pattern.endIndex { return true }  // trailing `**`: anything, slashes included
                    // `**/`: zero or more whole directories.
                    let rest = pattern[(q + 1)...]
                    if wildmatch(rest, text[t...]) { return true }
                    var k = t
                    while k < text.endIndex {
                        if text[k] == slash && wildmatch(rest, text[(k + 1)...]) { return true }
                        k += 1
                    }
                    return false
                }
                // A plain star (or a `**` not delimited by slashes): any run without `/`.
                let rest = pattern[q...]
                if rest.isEmpty { return !text[t...].contains(slash) }
                var k = t
                while true {
                    if wildmatch(rest, text[k...]) { return true }
                    if k == text.endIndex || text[k] == slash { return false }
                    k += 1
                }
            case UInt8(ascii: "["):
                guard t < text.endIndex, text[t] != slash else { return false }
                if let (matched, next) = matchClass(pattern, at: p, byte: text[t]) {
                    guard matched else { return false }
                    p = next
                    t += 1
                } else {
                    // No closing bracket: a literal '['.
                    guard text[t] == c else { return false }
                    p += 1
                    t += 1
                }
            case UInt8(ascii: "\\") where p + 1 < pattern.endIndex:
                guard t < text.endIndex, text[t] == pattern[p + 1] else { return false }
                p += 2
                t += 1
            default:
                guard t < text.endIndex, text[t] == c else { return false }
                p += 1
                t += 1
            }
        }
        return t == text.endIndex
    }

    /// Matches `byte` against the class starting at `pattern[start] == "["`; nil when the class is unclosed.
    private static func matchClass(_ pattern: ArraySlice<UInt8>, at start: Int, byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negated = false
        if i < pattern.endIndex && (pattern[i] == UInt8(ascii: "!") || pattern[i] == UInt8(ascii: "^")) {
            negated = true
            i += 1
        }
        var matched = false
        var first = true
        while i < pattern.endIndex {
            var low = pattern[i]
            if low == UInt8(ascii: "]") && !first {
                return (matched != negated, i + 1)
            }
            first = false
            if low == UInt8(ascii: "\\") && i + 1 < pattern.endIndex {
                i += 1
                low = pattern[i]
            }
            var high = low
            if i + 2 < pattern.endIndex && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
                high = pattern[i + 2]
                if high == UInt8(ascii: "\\") && i + 3 < pattern.endIndex {
                    high = pattern[i + 3]
                    i += 1
                }
                i += 3
            } else {
                i += 1
            }
            if low <= byte && byte <= high { matched = true }
        }
        return nil
    }
}
