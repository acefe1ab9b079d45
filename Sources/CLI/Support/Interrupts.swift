import Dispatch
import Foundation
import Synchronization

/// Ctrl-C while a command follows a run: the first calls the command's handler, a second exits at once.
///
/// `@unchecked Sendable`: `source` is set once before the handler is shared and dispatch sources are
/// thread-safe; the count is behind its mutex.
final class Interrupts: @unchecked Sendable {
    private var source: (any DispatchSourceSignal)?
    private let count = Mutex(0)

    private init() {}

    /// Starts handling SIGINT: `first` runs on the first one; the second exits with status 130.
    static func handle(_ first: @escaping @Sendable () -> Void) -> Interrupts {
        signal(SIGINT, SIG_IGN)
        let handler = Interrupts()
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [handler] in
            let seen = handler.count.withLock { count -> Int in
                count += 1
                return count
            }
            if seen == 1 { first() } else { exit(ExitStatus.interrupted) }
        }
        handler.source = source
        source.resume()
        return handler
    }

    /// Whether a Ctrl-C came.
    var happened: Bool { count.withLock { $0 > 0 } }

    /// Stops handling SIGINT (the default action again).
    func stop() {
        source?.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
