import Dispatch
import Glibc

/// The per-child reader (on a pooled thread): polls the two output pipes and the child's pidfd, forwards output, reaps bash and
/// kills what is left of its process group.
///
/// All of its mutable state lives on its own thread; it shares only `ChildProcessState` (behind its mutex) and
/// the stream continuation (thread-safe).
struct ChildOutputReader: Sendable {
    let pid: Int32
    let stdoutFD: Int32
    let stderrFD: Int32
    /// -1 when pidfds are unavailable: the loop then polls `waitpid(WNOHANG)` on a short timeout.
    let pidFD: Int32
    let shared: ChildProcessState
    let continuation: AsyncStream<(OutputStreamKind, [UInt8])>.Continuation

    static let readSize = 64 * 1024

    /// Starts reading on a pooled thread (see `ReaderThreads`); returns the `pthread_create`
    /// error number on failure.
    func start() -> Int32? {
        ReaderThreads.shared.run(self)
    }

    func run() {
        var fds = [
            pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0),
        ]
        let kinds: [OutputStreamKind] = [.stdout, .stderr]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }
        var openPipes = 2
        var reaped = false
        var fallbackWaitMS: Int32 = 1  // backoff for kernels without pidfds
        var drainUntil: DispatchTime?

        while openPipes > 0 || !reaped {
            var timeout: Int32 = -1
            if reaped {
                // Drain after the group was killed; give up on pipes held by escaped processes.
                let until = drainDeadline(reapedDrain: &drainUntil)
                let now = DispatchTime.now()
                if now >= until { break }
                timeout = Int32(min(1_000, (until.uptimeNanoseconds - now.uptimeNanoseconds) / 1_000_000 + 1))
            } else if pidFD < 0 {
                // No pidfd: poll waitpid with a backoff up to 50 ms.
                timeout = fallbackWaitMS
                fallbackWaitMS = min(fallbackWaitMS * 2, 50)
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break  // cannot happen with valid descriptors; close and finish below
            }
            for index in 0..<2 where fds[index].fd >= 0 && fds[index].revents != 0 {
                let count = read(fds[index].fd, buffer.baseAddress, buffer.count)
                if count > 0 {
                    continuation.yield((kinds[index], Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))))
                } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(fds[index].fd)
                    fds[index].fd = -1
                    openPipes -= 1
                    if openPipes == 0 { continuation.finish() }  // even if bash still runs
                }
            }
            if !reaped && (pidFD < 0 || fds[2].revents != 0 || openPipes == 0) {
                reaped = reap()
                if reaped && fds[2].fd >= 0 {
                    close(fds[2].fd)
                    fds[2].fd = -1
                }
            }
            if reaped && openPipes == 0 {
                // Nothing can still hold the pipes: the group is empty, its id must not be signalled again.
                shared.state.withLock { $0.mayKillGroup = false }
            }
        }
        for index in 0..<3 where fds[index].fd >= 0 { close(fds[index].fd) }
        continuation.finish()
    }

    /// Reaps bash if it has exited; kills the rest of its group (now, or at the `terminateGroup` deadline so
    /// that processes handling `SIGTERM` get their grace period) and resumes waiters.
    private func reap() -> Bool {
        var waiters: [CheckedContinuation<ProcessTermination, Never>] = []
        var termination: ProcessTermination?
        // Never block here: the mutex is held, and terminateGroup needs it while bash may still run.
        shared.state.withLock { state in
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
            if result == pid {
                termination = ProcessTermination(waitStatus: status)
            } else if result < 0 && errno == ECHILD {
                termination = ProcessTermination(exitCode: nil, signal: nil)  // reaped by someone else
            } else {
                return
            }
            state.termination = termination
            if let deadline = state.killDeadline, DispatchTime.now() < deadline {
                // terminateGroup's timer sends the SIGKILL when the grace period ends.
            } else if state.mayKillGroup {
                kill(-pid, SIGKILL)
                state.mayKillGroup = false
            }
            waiters = state.waiters
            state.waiters = []
        }
        guard let termination else { return false }
        for waiter in waiters { waiter.resume(returning: termination) }
        return true
    }

    /// The time after which the reader stops waiting for the pipes to close.
    private func drainDeadline(reapedDrain: inout DispatchTime?) -> DispatchTime {
        if reapedDrain == nil { reapedDrain = DispatchTime.now() }
        let killAt = shared.state.withLock { $0.killDeadline }
        let start = max(reapedDrain!, killAt ?? reapedDrain!)
        return start + ChildProcess.drainSeconds
    }
}
