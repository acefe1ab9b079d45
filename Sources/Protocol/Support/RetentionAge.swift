/// An age as `conduit runs prune --older-than` takes it: a whole number and a unit, `30d`, `12h`, `90m`.
public struct RetentionAge: Hashable, Sendable, CustomStringConvertible {
    /// The age in milliseconds.
    public let milliseconds: Int64
    /// The text it was read from.
    public let text: String

    /// A problem with an age's text, saying what was expected.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private static let units: [Character: Int64] = ["d": 86_400_000, "h": 3_600_000, "m": 60_000]

    /// Reads `30d`, `12h` or `90m` (days, hours, minutes): a positive whole number, then one unit.
    ///
    /// - Throws: ``ParseError`` naming what was expected (an empty text, no unit, another unit, a
    ///   fraction, zero, a sign, or an age beyond 100 years).
    public init(parsing text: String) throws(ParseError) {
        let expected = "an age such as 30d, 12h or 90m (a whole number of days d, hours h or minutes m)"
        guard let unit = text.last, let factor = Self.units[unit] else {
            let problem = text.isEmpty ? "an empty age" : text.last!.isNumber ? "'\(text)' has no unit" : "'\(text)' has an unknown unit"
            throw ParseError(message: "\(problem): expected \(expected)")
        }
        let number = text.dropLast()
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ParseError(message: "'\(text)' is not a whole number followed by its unit: expected \(expected)")
        }
        guard let value = Int64(number) else {
            throw ParseError(message: "'\(text)' is more than 100 years: expected \(expected)")
        }
        guard value > 0 else {
            throw ParseError(message: "'\(text)' must be more than zero: expected \(expected)")
        }
        guard value <= 100 * 365 * 86_400_000 / factor else {
            throw ParseError(message: "'\(text)' is more than 100 years: expected \(expected)")
        }
        self.milliseconds = value * factor
        self.text = text
    }

    public var description: String { text }
}
