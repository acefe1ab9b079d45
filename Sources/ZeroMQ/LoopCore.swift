import CZeroMQ
import Glibc
import Synchronization

/// The part of a loop that every thread may touch: the zmq context, a mutex-protected command queue, and
/// the wake-up pipe whose read end sits in the loop thread's `zmq_poll` item list.
///
/// Submitting writes one byte to the pipe only when no wake-up is already pending, so a burst of sends
/// costs one `write(2)` and the loop wakes at once (no polling sleeps).
final class LoopCore: Sendable {
    /// State shared between submitters and the loop thread, guarded by `shared`.
    struct Shared {
        var commands: [LoopCommand] = []
        /// A byte is in (or about to be written to) the wake pipe and the loop has not taken the queue since.
        var wakePending = false
        /// Set once by ``requestShutdown()``; afterwards submissions are refused.
        var isShutDown = false
    }

    /// A zmq context pointer.
    ///
    /// `@unchecked Sendable`: libzmq documents contexts as thread-safe; in practice only the loop thread
    /// creates sockets in it and terminates it.
    struct Context: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
    }

    let context: Context
    let shared = Mutex(Shared())
    /// Read end of the wake-up pipe (non-blocking), polled by the loop thread.
    let wakeReadFD: Int32
    /// Write end of the wake-up pipe (non-blocking). Closed only in `deinit`, when no submitter can exist.
    let wakeWriteFD: Int32

    init() throws(ZMQError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw ZMQError(code: .init(rawValue: errno), message: "cannot create the ZMQ loop's wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        guard let raw = zmq_ctx_new() else {
            let error = ZMQError.last("cannot create a zmq context")
            close(fds[0])
            close(fds[1])
            throw error
        }
        // Conduit's sockets live on one thread; one libzmq I/O thread is plenty (that is also its default).
        _ = zmq_ctx_set(raw, ZMQ_IO_THREADS, 1)
        _ = zmq_ctx_set(raw, ZMQ_BLOCKY, 0)
        context = Context(raw: raw)
        wakeReadFD = fds[0]
        wakeWriteFD = fds[1]
    }

    deinit {
        close(wakeReadFD)
        close(wakeWriteFD)
    }

    /// Queues `command` for the loop thread and wakes it if needed. Returns `false` (and drops the command)
    /// once the loop is shut down.
    @discardableResult
    func submit(_ command: LoopCommand) -> Bool {
        let (accepted, mustWake) = shared.withLock { state -> (Bool, Bool) in
            guard !state.isShutDown else { return (false, false) }
            state.commands.append(command)
            if state.wakePending { return (true, false) }
            state.wakePending = true
            return (true, true)
        }
        if mustWake { wake() }
        return accepted
    }

    /// Marks the loop shut down and wakes it. Returns `true` for the first call only.
    func requestShutdown() -> Bool {
        let first = shared.withLock { state -> Bool in
            guard !state.isShutDown else { return false }
            state.isShutDown = true
            state.wakePending = true
            return true
        }
        if first { wake() }
        return first
    }

    /// Loop thread only: swaps the queued commands into `batch` (which must be empty) and re-arms the
    /// wake-up. Returns whether shutdown has been requested.
    func takeCommands(into batch: inout [LoopCommand]) -> Bool {
        var taken = batch
        batch = []
        let isShutDown = shared.withLock { state -> Bool in
            swap(&state.commands, &taken)
            state.wakePending = false
            return state.isShutDown
        }
        batch = taken
        return isShutDown
    }

    /// Loop thread only: empties the wake-up pipe.
    func drainWakeups() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let size = MemoryLayout.size(ofValue: buffer)
        while true {
            let count = withUnsafeMutableBytes(of: &buffer) { read(wakeReadFD, $0.baseAddress, size) }
            if count == size { continue }
            if count < 0 && errno == EINTR { continue }
            return
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        while write(wakeWriteFD, &byte, 1) < 0 && errno == EINTR {}
        // EAGAIN means the pipe is full of wake-ups already: the loop will wake anyway.
    }
}
