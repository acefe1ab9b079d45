import Foundation
import Protocol

/// The pieces of text the live progress is made of: elapsed times, retry notes, step output made
/// safe to show, and lines cut to the terminal's width. Pure functions, no I/O.
enum ProgressText {
    /// `7s`, `1m05s`, `2h03m`: how long a step has run, from whole seconds (a negative span, from
    /// clocks that disagree, shows as `0s`).
    static func elapsed(milliseconds: Int64) -> String {
        let seconds = max(0, milliseconds) / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" + twoDigits(seconds % 60) + "s" }
        return "\(seconds / 3600)h" + twoDigits(seconds % 3600 / 60) + "m"
    }

    private static func twoDigits(_ value: Int64) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// `attempt 2 of 3 after exit 1`: what a retry says, from the attempts so far (oldest first)
    /// and the step's retry budget (`retry.attempts`) when known. The budget is left out when
    /// unknown or already passed (a worker that went away does not use up the budget).
    static func retry(number: Int, budget: Int?, previous: AttemptReport?) -> String {
        var text = "attempt \(number)"
        if let budget, budget >= number { text += " of \(budget)" }
        if let previous, let cause = cause(of: previous) { text += " after " + cause }
        return text
    }

    /// Why an attempt ended, in a few words: `exit 1`, `signal 9`, `timeout`, or its message.
    static func cause(of attempt: AttemptReport) -> String? {
        if attempt.status == "timed_out" { return "timeout" }
        if let code = attempt.exitCode, code != 0 { return "exit \(code)" }
        if let signal = attempt.signal { return "signal \(signal)" }
        if let message = attempt.message, !message.isEmpty { return visible(message) }
        return attempt.hasEnded ? attempt.status.replacingOccurrences(of: "_", with: " ") : nil
    }

    /// A line of a step's output as a terminal would leave it, without anything that could move the
    /// cursor or change colours: what follows the last carriage return (a progress bar's latest
    /// state), escape sequences removed, tabs as spaces, other control characters dropped,
    /// trailing white space trimmed (leading kept: it indents tracebacks).
    static func visible(_ line: String) -> String {
        // The latest non-blank state of the line (`\r` rewrites it on a terminal).
        let segments = line.split(separator: "\r", omittingEmptySubsequences: false)
        let segment = String(segments.last { !$0.allSatisfy(\.isWhitespace) } ?? "")
        var result = String.UnicodeScalarView()
        var scalars = segment.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar.value {
            case 0x1B:
                skipEscape(&scalars)
            case 0x9B:
                // The one-byte CSI: parameters up to a final byte.
                while let next = scalars.next(), !(0x40...0x7E).contains(next.value) {}
            case 0x09:
                result.append(" ")
            case 0x00...0x1F, 0x7F...0x9F:
                continue
            default:
                result.append(scalar)
            }
        }
        var text = String(result)
        while text.last?.isWhitespace == true { text.removeLast() }
        return text
    }

    /// Skips the rest of an escape sequence whose ESC was just read: CSI (`ESC [` … final byte),
    /// OSC, DCS and the like (up to BEL or `ESC \`), or a two-character escape.
    private static func skipEscape(_ scalars: inout String.UnicodeScalarView.Iterator) {
        guard let kind = scalars.next() else { return }
        switch kind {
        case "[":
            while let next = scalars.next(), !(0x40...0x7E).contains(next.value) {}
        case "]", "P", "X", "^", "_":
            var previous: Unicode.Scalar?
            while let next = scalars.next() {
                if next.value == 0x07 || (previous?.value == 0x1B && next == "\\") { break }
                previous = next
            }
        case "(", ")", "*", "+", "#", "%":
            _ = scalars.next()
        default:
            break
        }
    }

    /// `line` cut to at most `width` characters, ending in `…` when cut.
    static func truncated(_ line: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        guard line.count > width else { return line }
        return String(line.prefix(width - 1)) + "…"
    }

    /// `name` padded with spaces to `width` characters.
    static func padded(_ name: String, to width: Int) -> String {
        name.count >= width ? name : name + String(repeating: " ", count: width - name.count)
    }
}
