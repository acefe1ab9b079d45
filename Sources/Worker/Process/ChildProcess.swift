import Dispatch
import Glibc
import Synchronization

/// A step's command running as `bash -c COMMAND` in a process group of its own, with its output streamed.
///
/// ``launch(command:workingDirectory:environment:)`` spawns bash with `posix_spawn` (no fork of the worker):
/// a new process group (its id is ``pid``), stdin from `/dev/null`, stdout and stderr on two pipes, no other
/// inherited descriptor (glibc ≥ 2.34), the given
/// working directory, exactly the given environment (nothing is inherited: pass `PATH` yourself), an empty
/// signal mask and default signal dispositions (so a worker that ignores `SIGTERM` does not pass that on).
///
/// One thread per running child (from a pool, never the cooperative pool) `poll`s both pipes and a pidfd: it delivers
/// output chunks to ``output`` as they arrive, reaps bash as soon as it exits, then `SIGKILL`s whatever is
/// left in its process group (e.g. `sleep 60 &`) so that nothing outlives the step. ``output`` ends when both
/// pipes are closed (possibly before bash exits, if it closes them), or 2 seconds after the group was killed
/// if something outside the group (a `setsid` daemon) still holds them.
///
/// ``output`` buffers without limit: consume it steadily.
public final class ChildProcess: Sendable {
    /// Seconds the reader keeps draining the pipes after the process group was killed.
    static let drainSeconds: Double = 2

    /// The process id of bash, which is also the id of its process group.
    public let pid: Int32

    /// Output chunks in arrival order, tagged with their pipe; finishes after both pipes close.
    public let output: AsyncStream<(OutputStreamKind, [UInt8])>

    private let shared: ChildProcessState

    private init(pid: Int32, output: AsyncStream<(OutputStreamKind, [UInt8])>, shared: ChildProcessState) {
        self.pid = pid
        self.output = output
        self.shared = shared
    }

    /// Starts `bash -c command` in `workingDirectory` with exactly `environment` (a plain simple
    /// command is exec'd directly, as bash would; see `SimpleCommand`).
    ///
    /// - Throws: ``ChildProcessError`` when the directory is missing, bash is missing, or spawning fails.
    public static func launch(
        command: String, workingDirectory: String, environment: [String: String]
    ) throws(ChildProcessError) -> ChildProcess {
        guard let bash = SpawnSymbols.bashPath else {
            throw ChildProcessError(
                code: .shellNotFound, message: "bash was not found at /bin/bash or /usr/bin/bash; install bash")
        }
        guard let addChdir = SpawnSymbols.addChdir else {
            throw ChildProcessError(
                code: .unsupportedPlatform,
                message: "posix_spawn_file_actions_addchdir_np is missing; the worker needs glibc 2.29 or newer")
        }
        var info = stat()
        guard stat(workingDirectory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ChildProcessError(
                code: .workingDirectoryNotFound,
                message: "working directory '\(workingDirectory)' does not exist or is not a directory",
                errno: errno)
        }

        // Pipes: the parent's read ends stay close-on-exec and non-blocking; the write ends are dup2'ed to
        // 1 and 2 in the child (dup2 clears close-on-exec there) and closed here after the spawn.
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard let pipe2 = SpawnSymbols.pipe2 else {
            throw ChildProcessError(code: .unsupportedPlatform, message: "pipe2 is missing; the worker needs glibc")
        }
        guard pipe2(&stdoutPipe, O_CLOEXEC) == 0 else { throw resourceError("create a pipe") }
        guard pipe2(&stderrPipe, O_CLOEXEC) == 0 else {
            let error = resourceError("create a pipe")
            close(stdoutPipe[0])
            close(stdoutPipe[1])
            throw error
        }
        func closeAll() {
            for fd in stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        _ = addChdir(&actions, workingDirectory)
        // Steps inherit nothing but 0, 1 and 2, even descriptors the worker opened without close-on-exec.
        if let addCloseFrom = SpawnSymbols.addCloseFrom { _ = addCloseFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        // A plain simple command is exec'd directly, exactly as `bash -c` would exec it (see
        // `SimpleCommand`); anything else runs under `bash -c` as written.
        var program = bash
        var arguments = ["bash", "-c", command]
        var environment = environment
        if let words = SimpleCommand.words(of: command),
           let resolved = SimpleCommand.resolve(words[0], path: environment["PATH"], workingDirectory: workingDirectory) {
            program = resolved
            arguments = words
            environment = SimpleCommand.environment(environment, program: resolved, workingDirectory: workingDirectory)
        }
        let environmentStrings = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawnResult = withCStringArray(arguments) { argv in
            withCStringArray(environmentStrings) { envp in
                posix_spawn(&pid, program, &actions, &attributes, argv, envp)
            }
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        stdoutPipe[1] = -1
        stderrPipe[1] = -1
        guard spawnResult == 0 else {
            closeAll()
            throw ChildProcessError(
                code: .spawnFailed,
                message: "could not start '\(program)' in '\(workingDirectory)'; check the directory's permissions",
                errno: spawnResult)
        }

        _ = fcntl(stdoutPipe[0], F_SETFL, O_NONBLOCK)
        _ = fcntl(stderrPipe[0], F_SETFL, O_NONBLOCK)
        var pidfd: Int32 = -1
        if let pidfdOpen = SpawnSymbols.pidfdOpen {
            pidfd = pidfdOpen(pid, 0)  // close-on-exec by definition
        }

        let (stream, continuation) = AsyncStream.makeStream(
            of: (OutputStreamKind, [UInt8]).self, bufferingPolicy: .unbounded)
        let shared = ChildProcessState(pid: pid)
        let reader = ChildOutputReader(
            pid: pid, stdoutFD: stdoutPipe[0], stderrFD: stderrPipe[0], pidFD: pidfd, shared: shared,
            continuation: continuation)
        if let error = reader.start() {
            // Without a reader nobody would reap the child: kill the group and reap it here.
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            closeAll()
            if pidfd >= 0 { close(pidfd) }
            continuation.finish()
            throw ChildProcessError(
                code: .resources, message: "could not start the output reader thread; the worker is out of threads",
                errno: error)
        }
        return ChildProcess(pid: pid, output: stream, shared: shared)
    }

    /// Waits until bash exits and returns how it ended. Returns at once when it already has; any number of
    /// callers may wait. Not cancellable: to stop waiting early, call ``terminateGroup(gracePeriod:)``.
    public func wait() async -> ProcessTermination {
        await withCheckedContinuation { (continuation: CheckedContinuation<ProcessTermination, Never>) in
            let finished = shared.state.withLock { state -> ProcessTermination? in
                if let termination = state.termination { return termination }
                state.waiters.append(continuation)
                return nil
            }
            if let finished { continuation.resume(returning: finished) }
        }
    }

    /// How bash ended, or nil while it runs.
    public var termination: ProcessTermination? {
        shared.state.withLock { $0.termination }
    }

    /// Sends `SIGTERM` to the whole process group now and, if anything of the group is left after
    /// `gracePeriod`, `SIGKILL`. Processes that handle `SIGTERM` get the full grace period even after bash
    /// has exited. A no-op once the group is gone; calling it again does not extend an earlier deadline.
    public func terminateGroup(gracePeriod: Duration) {
        let components = gracePeriod.components
        let seconds = max(0, Double(components.seconds) + Double(components.attoseconds) / 1e18)
        let deadline = DispatchTime.now() + seconds
        let shared = self.shared
        let pid = self.pid
        let scheduled = shared.state.withLock { state -> Bool in
            guard state.mayKillGroup else { return false }
            kill(-pid, SIGTERM)
            guard state.killDeadline == nil else { return false }
            state.killDeadline = deadline
            return true
        }
        guard scheduled else { return }
        DispatchQueue.global().asyncAfter(deadline: deadline) {
            shared.state.withLock { state in
                guard state.mayKillGroup else { return }
                kill(-pid, SIGKILL)
                if state.termination != nil { state.mayKillGroup = false }
            }
        }
    }

    private static func resourceError(_ what: String) -> ChildProcessError {
        ChildProcessError(
            code: .resources,
            message: "could not \(what); the worker may be out of file descriptors (check ulimit -n)", errno: errno)
    }
}

/// State shared by a ``ChildProcess``, its reader thread and its kill timer, behind one mutex.
final class ChildProcessState: Sendable {
    struct State {
        /// Set once bash has been reaped.
        var termination: ProcessTermination?
        /// Callers of `wait()` to resume at termination.
        var waiters: [CheckedContinuation<ProcessTermination, Never>] = []
        /// When `terminateGroup` asked for a `SIGKILL` (nil: not asked).
        var killDeadline: DispatchTime?
        /// False once the group has been killed after bash was reaped, or is known to be empty: from then on
        /// its id may be reused by an unrelated group, so no more signals are sent to it.
        var mayKillGroup = true
    }

    let pid: Int32
    let state = Mutex(State())

    init(pid: Int32) { self.pid = pid }
}

/// Runs `body` with a NULL-terminated `char *[]` built from `strings`.
private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
