/// Sizes as people write them (`16GiB`, `512MiB`, `2GB`, `1048576`) and as Conduit prints them.
public enum ByteCount {
    /// The units accepted by `parse`, for error messages.
    public static let unitsDescription = "B; KiB, MiB, GiB, TiB (powers of 1024, also written Ki, K, ...); KB, MB, GB, TB (powers of 1000)"

    /// Reads a size: a non-negative number (a fraction is allowed with a unit) and an optional
    /// unit, in any case, perhaps after a space; no unit means bytes. `K`, `M`, `G`, `T` alone
    /// are powers of 1024, as in `KiB`; `KB`, `MB`, `GB`, `TB` are powers of 1000. Returns nil for anything else, including sizes beyond 2^63.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces
        guard let unitStart = trimmed.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? Optional(trimmed.endIndex) else { return nil }
        let number = String(trimmed[..<unitStart])
        let unit = String(trimmed[unitStart...]).trimmingSpaces
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != "." else { return nil }
        guard let multiplier = multipliers[unit.lowercased()] ?? (unit.isEmpty ? 1 : nil) else { return nil }
        if unit.isEmpty || multiplier == 1 {
            guard !number.contains("."), let whole = Int64(number) else { return nil }
            return whole
        }
        guard let value = Double(number), value.isFinite else { return nil }
        let bytes = (value * Double(multiplier)).rounded()
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }

    /// `15.6 GiB`, `512 MiB`, `900 B`: binary units, one decimal below 100.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var index = 0
        while abs(value) >= 1024 && index < units.count - 1 {
            value /= 1024
            index += 1
        }
        if index == 0 { return "\(bytes) B" }
        let rounded = value >= 100 ? "\(Int(value.rounded()))" : String(Double(Int((value * 10).rounded())) / 10)
        return rounded.hasSuffix(".0") ? String(rounded.dropLast(2)) + " " + units[index] : rounded + " " + units[index]
    }

    private static let multipliers: [String: Int64] = {
        var table: [String: Int64] = ["b": 1]
        let prefixes = ["k", "m", "g", "t"]
        for (power, prefix) in prefixes.enumerated() {
            var decimal: Int64 = 1
            var binary: Int64 = 1
            for _ in 0...power {
                decimal *= 1000
                binary *= 1024
            }
            table[prefix] = binary
            table[prefix + "b"] = decimal
            table[prefix + "i"] = binary
            table[prefix + "ib"] = binary
        }
        return table
    }()
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
