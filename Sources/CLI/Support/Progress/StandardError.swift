import Foundation
import Synchronization

/// Standard error for log lines: written as it is, or, while progress is redrawn in place,
/// through the progress printer, which writes it above the drawing.
struct StandardError: TextOutputStream, Sendable {
    private static let printer = Mutex<ProgressPrinter?>(nil)

    /// Sends what is written through `printer` from now on (nil: straight to standard error).
    static func route(through printer: ProgressPrinter?) {
        self.printer.withLock { $0 = printer }
    }

    mutating func write(_ string: String) {
        if let printer = Self.printer.withLock({ $0 }) {
            printer.handle(.external(string))
        } else {
            FileHandle.standardError.write(Data(string.utf8))
        }
    }
}
