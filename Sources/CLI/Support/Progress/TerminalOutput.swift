import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the CLI needs to know about where progress goes: whether it may redraw in place, and how wide it is.
struct TerminalOutput: Sendable, Hashable {
    /// Whether ANSI sequences may redraw lines in place.
    var redraws: Bool
    /// Columns (80 when unknown).
    var width: Int

    /// Standard error (where progress goes), as it is now.
    static func standardError(environment: [String: String] = ProcessInfo.processInfo.environment) -> TerminalOutput {
        let descriptor = FileHandle.standardError.fileDescriptor
        return TerminalOutput(
            redraws: allowsRedrawing(isTerminal: isatty(descriptor) == 1, environment: environment),
            width: width(of: descriptor)
        )
    }

    /// Redrawing needs a terminal that is not `TERM=dumb` (or unset), and no `NO_COLOR`: Conduit
    /// writes no colour, but whoever sets `NO_COLOR` asks for plain output.
    static func allowsRedrawing(isTerminal: Bool, environment: [String: String]) -> Bool {
        guard isTerminal else { return false }
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        guard let term = environment["TERM"], !term.isEmpty, term != "dumb" else { return false }
        return true
    }

    /// The columns of the terminal on `descriptor` (`TIOCGWINSZ`), or 80 when it has none.
    static func width(of descriptor: Int32) -> Int {
        var size = winsize()
        #if canImport(Glibc)
            let result = ioctl(descriptor, UInt(TIOCGWINSZ), &size)
        #else
            let result = ioctl(descriptor, TIOCGWINSZ, &size)
        #endif
        guard result == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
