import Foundation

/// YAML 1.1 implicit typing of plain scalars, as PyYAML's `SafeLoader` does it.
///
/// Only plain (unquoted, untagged) scalars go through `resolve(plain:)`; quoted scalars are strings.
/// `1e-3` stays the string `"1e-3"` (YAML 1.1 floats need a dot), `012` is octal 10, `off` is false,
/// `2022-07-10` is a date.
enum ScalarResolver {
    /// Why a scalar that looks typed cannot be built (PyYAML raises for these too).
    struct Failure: Error {
        var message: String
    }

    /// The value PyYAML's `safe_load` gives the plain scalar `text`.
    static func resolve(plain text: String) throws(Failure) -> Literal {
        if isNull(text) { return .null }
        if let value = bool(text) { return .bool(value) }
        if let first = text.first, "-+0123456789".contains(first), isInt(text) {
            return try integer(text)
        }
        if let first = text.first, "-+0123456789.".contains(first), isFloat(text) {
            return .float(float(text))
        }
        if let first = text.first, first.isASCIIDigit, let stamp = try timestamp(text) {
            return .timestamp(stamp)
        }
        return .string(text)
    }

    static func isNull(_ text: String) -> Bool {
        ["", "~", "null", "Null", "NULL"].contains(text)
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return true
        case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    // MARK: Integers

    /// `^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`
    static func isInt(_ text: String) -> Bool {
        var body = Substring(text)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        guard let first = body.first else { return false }
        if body.hasPrefix("0b") {
            let rest = body.dropFirst(2)
            return !rest.isEmpty && rest.allSatisfy { "01_".contains($0) }
        }
        if body.hasPrefix("0x") {
            let rest = body.dropFirst(2)
            return !rest.isEmpty && rest.allSatisfy { $0.isHexDigit || $0 == "_" }
        }
        if first == "0" {
            let rest = body.dropFirst()
            return rest.isEmpty || rest.allSatisfy { "01234567_".contains($0) }
        }
        guard first.isASCIIDigit else { return false }
        let groups = body.split(separator: ":", omittingEmptySubsequences: false)
        guard groups[0].allSatisfy({ $0.isASCIIDigit || $0 == "_" }) else { return false }
        return groups.dropFirst().allSatisfy(isSexagesimalDigitGroup)
    }

    /// `[0-5]?[0-9]`
    private static func isSexagesimalDigitGroup(_ group: Substring) -> Bool {
        guard let last = group.last, last.isASCIIDigit else { return false }
        switch group.count {
        case 1: return true
        case 2: return "012345".contains(group.first!)
        default: return false
        }
    }

    private static func integer(_ text: String) throws(Failure) -> Literal {
        var body = text.replacingOccurrences(of: "_", with: "")
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body.removeFirst()
        }
        let magnitude: Int?
        if body == "0" {
            magnitude = 0
        } else if body.hasPrefix("0b") {
            magnitude = Int(body.dropFirst(2), radix: 2)
        } else if body.hasPrefix("0x") {
            magnitude = Int(body.dropFirst(2), radix: 16)
        } else if body.hasPrefix("0") {
            magnitude = Int(body.dropFirst(), radix: 8)
        } else if body.contains(":") {
            var total = 0
            var overflow = false
            for group in body.split(separator: ":") {
                let (times, o1) = total.multipliedReportingOverflow(by: 60)
                let (sum, o2) = times.addingReportingOverflow(Int(group) ?? 0)
                overflow = overflow || o1 || o2
                total = sum
            }
            magnitude = overflow ? nil : total
        } else {
            magnitude = Int(body)
        }
        guard let magnitude else {
            throw Failure(message: "the integer \(abbreviated(text)) is not valid or does not fit in 64 bits")
        }
        return .int(negative ? -magnitude : magnitude)
    }

    /// `text`, or its first 20 characters and its length when it is longer than 40, so that a hostile
    /// 10,000-digit literal does not become a 10,000-character message.
    static func abbreviated(_ text: String) -> String {
        guard text.count > 40 else { return text }
        return "\(text.prefix(20))… (\(text.count) characters)"
    }

    // MARK: Floats

    /// PyYAML's float pattern:
    /// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`, `\.[0-9][0-9_]*([eE][-+][0-9]+)?`,
    /// `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`, `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`.
    static func isFloat(_ text: String) -> Bool {
        if [".nan", ".NaN", ".NAN"].contains(text) { return true }
        var body = Substring(text)
        let hadSign = body.first == "+" || body.first == "-"
        if hadSign { body = body.dropFirst() }
        if [".inf", ".Inf", ".INF"].contains(body) { return true }
        if body.first == "." {
            // `\.[0-9][0-9_]*` takes no sign.
            guard !hadSign else { return false }
            let rest = body.dropFirst()
            guard let first = rest.first, first.isASCIIDigit else { return false }
            return isDigitsThenExponent(rest)
        }
        guard let first = body.first, first.isASCIIDigit, let dot = body.firstIndex(of: ".") else { return false }
        let head = body[..<dot]
        let tail = body[body.index(after: dot)...]
        if head.contains(":") {
            let groups = head.split(separator: ":", omittingEmptySubsequences: false)
            guard groups[0].allSatisfy({ $0.isASCIIDigit || $0 == "_" }),
                  groups.dropFirst().allSatisfy(isSexagesimalDigitGroup) else { return false }
            return tail.allSatisfy { $0.isASCIIDigit || $0 == "_" }
        }
        guard head.allSatisfy({ $0.isASCIIDigit || $0 == "_" }) else { return false }
        return isDigitsThenExponent(tail)
    }

    /// `[0-9_]*(?:[eE][-+][0-9]+)?`
    private static func isDigitsThenExponent(_ text: Substring) -> Bool {
        guard let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
            return text.allSatisfy { $0.isASCIIDigit || $0 == "_" }
        }
        guard text[..<marker].allSatisfy({ $0.isASCIIDigit || $0 == "_" }) else { return false }
        let exponent = text[text.index(after: marker)...]
        guard let sign = exponent.first, sign == "+" || sign == "-" else { return false }
        let digits = exponent.dropFirst()
        return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit)
    }

    private static func float(_ text: String) -> Double {
        var body = text.replacingOccurrences(of: "_", with: "").lowercased()
        var sign = 1.0
        if body.first == "+" || body.first == "-" {
            if body.first == "-" { sign = -1 }
            body.removeFirst()
        }
        if body == ".inf" { return sign * .infinity }
        if body == ".nan" { return .nan }
        if body.contains(":") {
            var total = 0.0
            for group in body.split(separator: ":") {
                total = total * 60 + (Double(group) ?? 0)
            }
            return sign * total
        }
        // Python's float() reads `1.` and `1.e+5`; Swift's parser wants a digit after the dot.
        if let dot = body.firstIndex(of: ".") {
            let after = body.index(after: dot)
            if after == body.endIndex || !body[after].isASCIIDigit {
                body.insert("0", at: after)
            }
        }
        return sign * (Double(body) ?? .nan)
    }

    // MARK: Timestamps

    /// PyYAML's timestamp pattern, built as Python's `str()` of the `date` or `datetime`; nil when
    /// `text` is not a timestamp.
    static func timestamp(_ text: String) throws(Failure) -> String? {
        let characters = Array(text)
        var index = 0
        func digits(min: Int, max: Int) -> Int? {
            var value = 0
            var count = 0
            while count < max, index < characters.count, characters[index].isASCIIDigit {
                value = value * 10 + Int(String(characters[index]))!
                index += 1
                count += 1
            }
            return count >= min ? value : nil
        }
        func expect(_ character: Character) -> Bool {
            guard index < characters.count, characters[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = digits(min: 4, max: 4), expect("-") else { return nil }
        let monthStart = index
        guard let month = digits(min: 1, max: 2), expect("-") else { return nil }
        let monthWidth = index - monthStart - 1
        let dayStart = index
        guard let day = digits(min: 1, max: 2) else { return nil }
        let dayWidth = index - dayStart
        func checkedDate() throws(Failure) -> String {
            guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), year >= 1 else {
                throw Failure(message: "\(text) looks like a date but is not a valid one")
            }
            return String(format: "%04d-%02d-%02d", year, month, day)
        }
        if index == characters.count {
            guard monthWidth == 2, dayWidth == 2 else { return nil }
            return try checkedDate()
        }
        // Date and time: `(?:[Tt]|[ \t]+)HH?:MM:SS(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+]HH?(?::MM)?))?`
        if characters[index] == "T" || characters[index] == "t" {
            index += 1
        } else {
            let start = index
            while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 }
            guard index > start else { return nil }
        }
        guard let hour = digits(min: 1, max: 2), expect(":"),
              let minute = digits(min: 2, max: 2), expect(":"),
              let second = digits(min: 2, max: 2) else { return nil }
        var fraction = ""
        if expect(".") {
            while index < characters.count, characters[index].isASCIIDigit {
                fraction.append(characters[index])
                index += 1
            }
        }
        while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 }
        var zone = ""
        if index < characters.count {
            if expect("Z") {
                zone = "+00:00"
            } else if characters[index] == "+" || characters[index] == "-" {
                let negative = characters[index] == "-"
                index += 1
                guard let zoneHour = digits(min: 1, max: 2) else { return nil }
                var zoneMinute = 0
                if expect(":") {
                    guard let value = digits(min: 2, max: 2) else { return nil }
                    zoneMinute = value
                }
                zone = (negative ? "-" : "+") + String(format: "%02d:%02d", zoneHour, zoneMinute)
            } else {
                return nil
            }
        }
        guard index == characters.count else { return nil }
        let date = try checkedDate()
        guard hour < 24, minute < 60, second < 60 else {
            throw Failure(message: "\(text) looks like a timestamp but is not a valid one")
        }
        var result = date + String(format: " %02d:%02d:%02d", hour, minute, second)
        let micro = String((fraction + "000000").prefix(6))
        if Int(micro) ?? 0 != 0 { result += "." + micro }
        return result + zone
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
