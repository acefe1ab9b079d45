/// The coordinator's database file is damaged (`PRAGMA quick_check` found problems, or the file is
/// not a SQLite database): it is refused rather than opened, so that a damaged page cannot turn into
/// wrong answers or lost writes later.
public struct StoreDamage: Error, CustomStringConvertible, Sendable {
    /// The database file.
    public let path: String
    /// What SQLite reported (the first few problems).
    public let detail: String

    public init(path: String, detail: String) {
        self.path = path
        self.detail = detail
    }

    public var description: String {
        "the database \(path) is damaged (\(detail))"
    }
}
