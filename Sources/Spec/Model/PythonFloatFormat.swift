import Foundation

/// Python's `repr(float)` and `float(str)`, so numbers read the same as in Azure ML's Python tooling.
enum PythonFloatFormat {
    /// `repr(value)` in Python 3: the shortest digits that round-trip, in fixed notation when the
    /// decimal exponent is in -4..<16 and in scientific notation (`1e-05`, `1e+16`) otherwise.
    static func repr(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        let sign = value < 0 ? "-" : ""
        // Swift's description also prints the shortest round-trip digits; only the layout differs.
        let text = "\(value.magnitude)"
        var mantissa = Substring(text)
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<marker]
            exponent = Int(text[text.index(after: marker)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = parts.first.map(String.init) ?? ""
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = Array(integerPart + fraction)
        // Value = 0.d1d2d3... × 10^point.
        var point = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        if digits.isEmpty { return sign + "0.0" }
        if point > -4 && point <= 16 {
            if point <= 0 {
                return sign + "0." + String(repeating: "0", count: -point) + String(digits)
            }
            if point >= digits.count {
                return sign + String(digits) + String(repeating: "0", count: point - digits.count) + ".0"
            }
            return sign + String(digits[..<point]) + "." + String(digits[point...])
        }
        let scientificExponent = point - 1
        var result = sign + String(digits[0])
        if digits.count > 1 { result += "." + String(digits[1...]) }
        let magnitude = abs(scientificExponent)
        result += (scientificExponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        return result
    }

    /// `float(text)` in Python: decimal or scientific text with optional sign, `_` between digits,
    /// surrounding whitespace, `inf`/`infinity`/`nan` in any case. Nil where Python raises.
    static func parseFloat(_ text: String) -> Double? {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !body.isEmpty else { return nil }
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body.removeFirst()
        }
        let lower = body.lowercased()
        if lower == "inf" || lower == "infinity" { return negative ? -.infinity : .infinity }
        if lower == "nan" { return .nan }
        // Python allows one underscore between digits only.
        let scalars = Array(lower)
        for (index, character) in scalars.enumerated() where character == "_" {
            guard index > 0, index + 1 < scalars.count,
                  scalars[index - 1].isASCIIDigit, scalars[index + 1].isASCIIDigit else { return nil }
        }
        let cleaned = lower.replacingOccurrences(of: "_", with: "")
        guard isDecimalFloat(cleaned), let value = Double(cleaned) else { return nil }
        return negative ? -value : value
    }

    /// `digits [. digits] [e [sign] digits]` or `. digits [...]`, with at least one digit in the mantissa.
    private static func isDecimalFloat(_ text: String) -> Bool {
        var index = text.startIndex
        var mantissaDigits = 0
        while index < text.endIndex, text[index].isASCIIDigit {
            mantissaDigits += 1
            index = text.index(after: index)
        }
        if index < text.endIndex, text[index] == "." {
            index = text.index(after: index)
            while index < text.endIndex, text[index].isASCIIDigit {
                mantissaDigits += 1
                index = text.index(after: index)
            }
        }
        guard mantissaDigits > 0 else { return false }
        if index < text.endIndex, text[index] == "e" {
            index = text.index(after: index)
            if index < text.endIndex, text[index] == "+" || text[index] == "-" {
                index = text.index(after: index)
            }
            var exponentDigits = 0
            while index < text.endIndex, text[index].isASCIIDigit {
                exponentDigits += 1
                index = text.index(after: index)
            }
            guard exponentDigits > 0 else { return false }
        }
        return index == text.endIndex
    }
}

extension Character {
    /// Whether this is one of `0`...`9`.
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
