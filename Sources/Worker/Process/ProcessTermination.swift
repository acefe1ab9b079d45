/// How a child process ended: an exit code, or the signal that killed it.
public struct ProcessTermination: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The exit code when the process exited normally; nil when a signal killed it.
    public var exitCode: Int32?
    /// The signal number when a signal killed the process; nil when it exited.
    public var signal: Int32?

    /// Creates a termination.
    public init(exitCode: Int32?, signal: Int32?) {
        self.exitCode = exitCode
        self.signal = signal
    }

    /// Whether the process exited with code 0.
    public var succeeded: Bool { exitCode == 0 }

    /// Decodes a `waitpid` status word (the `WIFEXITED`/`WIFSIGNALED` macros, which Swift does not import).
    init(waitStatus status: Int32) {
        let low = status & 0x7F
        if low == 0 {
            self.init(exitCode: (status >> 8) & 0xFF, signal: nil)
        } else {
            self.init(exitCode: nil, signal: low)
        }
    }

    /// `"exit 0"` or `"signal 9"`.
    public var description: String {
        if let exitCode { return "exit \(exitCode)" }
        if let signal { return "signal \(signal)" }
        return "unknown"
    }
}
