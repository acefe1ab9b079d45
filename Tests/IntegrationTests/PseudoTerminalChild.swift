import Foundation
import TestKit

#if canImport(Glibc)
    import Glibc
#endif

/// A `conduit` child whose standard input, output and error are a pseudo-terminal, as in a
/// user's terminal; everything it writes there is collected, escape sequences included.
final class PseudoTerminalChild: @unchecked Sendable {
    // `@unchecked Sendable`: `output` and `ended` are guarded by `condition`; `process` is used
    // only through its own thread-safe methods; `master` is read only by the reader thread
    // (and closed once that thread is done).
    let process = Process()
    private let condition = NSCondition()
    private var output: [UInt8] = []
    private var ended = false
    private var exitStatus: Int32?
    private let master: Int32
    /// `TIOCSPTLCK` and `TIOCGPTN` (`_IOW('T', 0x31, int)`, `_IOR('T', 0x30, unsigned int)`), as on x86-64 and arm64 Linux.
    private static let unlockSlave = UInt(0x4004_5431)
    private static let slaveNumber = UInt(0x8004_5430)

    /// Starts `conduit ARGUMENTS` on a fresh pseudo-terminal of `columns` × `rows`.
    init(arguments: [String], environment extra: [String: String], columns: UInt16 = 100, rows: UInt16 = 30) throws {
        // `posix_openpt`, `unlockpt` and `ptsname` by hand (Glibc does not export them to Swift):
        // the multiplexer gives a master; TIOCSPTLCK unlocks its slave, TIOCGPTN numbers it.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, Self.unlockSlave, &unlock) == 0, ioctl(master, Self.slaveNumber, &number) == 0 else {
            throw HarnessError("cannot open a pseudo-terminal: errno \(errno)")
        }
        let name = "/dev/pts/\(number)"
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        // Neither end may leak into other children (one would hold the terminal open past our child's end).
        let slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else { throw HarnessError("cannot open \(name): errno \(errno)") }
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        process.executableURL = URL(fileURLWithPath: ProcessHarness.conduitExecutable())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for name in ["CONDUIT_REGISTRY", "CONDUIT_ENVIRONMENTS", "CONDUIT_URL", "NO_COLOR"] { environment.removeValue(forKey: name) }
        // The local service `conduit run` starts stops soon after (and at once when its data directory is removed).
        environment["CONDUIT_SERVICE_IDLE_EXIT"] = "20s"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardInput = terminal
        process.standardOutput = terminal
        process.standardError = terminal
        process.terminationHandler = { process in
            self.condition.lock()
            self.exitStatus = process.terminationStatus
            self.condition.broadcast()
            self.condition.unlock()
        }
        try process.run()
        try terminal.close()
        let thread = Thread { [self] in readUntilEnd() }
        thread.start()
    }

    /// Reads the terminal until the child (and whatever it started) has closed it.
    private func readUntilEnd() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(master, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            condition.lock()
            if count > 0 { output += buffer[0..<count] } else { ended = true }
            condition.broadcast()
            condition.unlock()
            // On Linux the master reads EIO once no one has the terminal open.
            if count <= 0 { break }
        }
        close(master)
    }

    /// Everything written so far.
    var bytes: [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        return output
    }

    /// Waits until what was written satisfies `predicate` (true), or the terminal closed or
    /// `timeout` passed without it (false).
    func waitForOutput(timeout: TimeInterval = 60, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(String(decoding: output, as: UTF8.self)) {
            if ended || !condition.wait(until: deadline) { return predicate(String(decoding: output, as: UTF8.self)) }
        }
        return true
    }

    /// Waits until the child has exited and the terminal is closed (or, when something the
    /// child started keeps it open, no more output comes); returns its status, or nil after
    /// `timeout` (the child is then killed).
    func waitForExit(timeout: TimeInterval = 120) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while exitStatus == nil || !ended {
            if exitStatus != nil {
                // Exited: what it wrote is in the terminal's buffer; take it until the terminal
                // closes or a quarter of a second passes without more.
                let seen = output.count
                if !condition.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.25))) && output.count == seen { break }
                continue
            }
            if !condition.wait(until: deadline) && exitStatus == nil {
                kill(process.processIdentifier, SIGKILL)
                return nil
            }
        }
        return exitStatus
    }
}
