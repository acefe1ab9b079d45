/// Sizes written for people: `500MiB`, `50GiB`, `1.5GB`, `4096`.
public enum ByteSize {
    /// Parses a number (decimals allowed) with an optional unit: `B`; `K`/`KiB`, `M`/`MiB`,
    /// `G`/`GiB`, `T`/`TiB` (powers of 1024); `KB`, `MB`, `GB`, `TB` (powers of 1000). Units are
    /// case-insensitive and may follow a space. Nil when the text is not such a size, is negative,
    /// or does not fit in 63 bits.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces()
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(number.count).trimmingSpaces().lowercased()
        guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0 else { return nil }
        let kibi: Double = 1024
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "k": kibi, "kib": kibi, "m": kibi * kibi, "mib": kibi * kibi,
            "g": kibi * kibi * kibi, "gib": kibi * kibi * kibi, "t": kibi * kibi * kibi * kibi, "tib": kibi * kibi * kibi * kibi,
            "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let bytes = (value * multiplier).rounded(.down)
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }

    /// `bytes` in the largest binary unit that keeps the number at least 1, e.g. `1.5 GiB`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let tenths = (value * 10).rounded() / 10
        let text = tenths == tenths.rounded() ? String(Int64(tenths)) : String(tenths)
        return "\(text) \(units[unit])"
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> Substring {
        let text = Substring(self)
        let start = text.firstIndex { $0 != " " } ?? text.endIndex
        let end = text.lastIndex { $0 != " " }.map(text.index(after:)) ?? start
        return text[start..<end]
    }
}
