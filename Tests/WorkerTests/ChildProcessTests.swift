import Foundation
import Glibc
import Testing
import Worker

@Suite("ChildProcess")
struct ChildProcessTests {
    static let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"]

    static func launch(_ command: String, in directory: String = "/", environment: [String: String] = environment)
        throws -> ChildProcess
    {
        try ChildProcess.launch(command: command, workingDirectory: directory, environment: environment)
    }

    /// Reads the whole output; returns stdout and stderr as text.
    static func collect(_ process: ChildProcess) async -> (stdout: String, stderr: String) {
        var out: [UInt8] = []
        var err: [UInt8] = []
        for await (kind, chunk) in process.output {
            switch kind {
            case .stdout: out += chunk
            case .stderr: err += chunk
            }
        }
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// True when `pid` no longer runs (absent, or a zombie nobody has reaped yet).
    static func isGone(_ pid: Int32) -> Bool {
        if kill(pid, 0) != 0 && errno == ESRCH { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[close...].dropFirst(2).first == "Z"
    }

    static func waitUntilGone(_ pids: [Int32], seconds: Double = 15) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if pids.allSatisfy(isGone) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return pids.allSatisfy(isGone)
    }

    /// This process's open descriptors that a launch could leak: pipes, files and devices. Sockets and
    /// event descriptors are left out: suites running beside this one (the HTTP flood tests hold
    /// hundreds of sockets at once) open and close them in bursts that would drown a leak's signal.
    static func openDescriptorCount() -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return -1 }
        return names.filter { name in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name) else { return false }
            return !target.hasPrefix("socket:") && !target.hasPrefix("anon_inode:")
        }.count
    }

    @Test(arguments: [("true", Int32(0)), ("false", 1), ("exit 3", 3), ("(exit 255)", 255)])
    func exitCodes(command: String, code: Int32) async throws {
        let process = try Self.launch(command)
        async let drained = Self.collect(process)
        let termination = await process.wait()
        _ = await drained
        #expect(termination == ProcessTermination(exitCode: code, signal: nil))
        #expect(termination.succeeded == (code == 0))
        #expect(process.termination == termination)
        #expect(await process.wait() == termination)  // waiting again is fine
    }

    @Test func killedBySignal() async throws {
        let process = try Self.launch("kill -KILL $$")
        let termination = await process.wait()
        #expect(termination == ProcessTermination(exitCode: nil, signal: SIGKILL))
        #expect(!termination.succeeded)
    }

    @Test func stdoutAndStderrAreSeparate() async throws {
        let process = try Self.launch("echo out; echo err >&2; echo more; printf 'no newline' >&2")
        let (out, err) = await Self.collect(process)
        #expect(out == "out\nmore\n")
        #expect(err == "err\nno newline")
        #expect(await process.wait().succeeded)
    }

    @Test func outputIsStreamedBeforeExit() async throws {
        // The step keeps running for 30 s after its first line: the line must arrive while the
        // process is still alive, i.e. streamed, not collected at exit.
        let process = try Self.launch("echo a; sleep 30; echo b")
        var iterator = process.output.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first.map { String(decoding: $0.1, as: UTF8.self) } == "a\n")
        #expect(process.termination == nil, "the first chunk arrived only after the process ended")
        process.terminateGroup(gracePeriod: .milliseconds(100))
        #expect(await process.wait().signal != nil)
    }

    @Test func environmentAndWorkingDirectoryAreApplied() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let real = try #require(realpath(directory.path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        })
        var environment = Self.environment
        environment["CONDUIT_STEP"] = "train step"
        let process = try Self.launch(
            "echo \"$CONDUIT_STEP\"; pwd -P; echo \"${HOME-unset}\"; read -t 1 line; echo \"stdin:$?\"",
            in: directory.path, environment: environment)
        let (out, _) = await Self.collect(process)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.first == "train step")
        #expect(lines.dropFirst().first == real)
        #expect(lines.dropFirst(2).first == "unset")  // nothing is inherited from the worker
        #expect(lines.last == "stdin:1")  // stdin is /dev/null: immediate end of file
    }

    @Test func onlyStandardDescriptorsAreInherited() async throws {
        let leaked = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        defer { close(leaked) }
        let process = try Self.launch("ls /proc/self/fd")
        let (out, _) = await Self.collect(process)
        // 0, 1, 2, plus the descriptor `ls` itself opens on the directory.
        #expect(!out.split(separator: "\n").contains(Substring(String(leaked))) || leaked <= 3)
        #expect(out.split(separator: "\n").count <= 4, "inherited descriptors: \(out)")
    }

    @Test func missingWorkingDirectoryIsReported() throws {
        let error = #expect(throws: ChildProcessError.self) {
            try Self.launch("true", in: "/nonexistent/conduit/\(UUID().uuidString)")
        }
        #expect(error?.code == .workingDirectoryNotFound)
    }

    @Test func terminateGroupKillsGrandchildren() async throws {
        let process = try Self.launch("sleep 100 & echo $!; sleep 100 & echo $!; wait")
        var pids: [Int32] = []
        var buffer = ""
        for await (kind, chunk) in process.output where kind == .stdout {
            buffer += String(decoding: chunk, as: UTF8.self)
            pids = buffer.split(separator: "\n").compactMap { Int32($0) }
            if pids.count == 2 && buffer.hasSuffix("\n") { break }
        }
        #expect(pids.count == 2)
        #expect(!pids.contains(where: Self.isGone))
        let started = ContinuousClock.now
        process.terminateGroup(gracePeriod: .seconds(30))
        let termination = await process.wait()
        #expect(termination.signal == SIGTERM)
        #expect(try await Self.waitUntilGone(pids + [process.pid]))
        // Well below the 30 s grace: SIGTERM alone ended everything.
        #expect(ContinuousClock.now - started < .seconds(20), "SIGTERM alone should have ended everything")
    }

    @Test func leftoversAreKilledWhenBashExits() async throws {
        let process = try Self.launch("sleep 60 & echo $!")
        let started = ContinuousClock.now
        let (out, _) = await Self.collect(process)  // ends only once the background sleep is gone
        let pid = try #require(Int32(out.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await process.wait().succeeded)
        // Far below the background sleep's 60 s: it was killed when bash exited.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(try await Self.waitUntilGone([pid]))
    }

    @Test func sigtermIgnoringProcessIsKilledAfterGrace() async throws {
        let process = try Self.launch("trap '' TERM; echo ready; sleep 100; echo after")
        for await (_, chunk) in process.output where String(decoding: chunk, as: UTF8.self).contains("ready") {
            break
        }
        let started = ContinuousClock.now
        process.terminateGroup(gracePeriod: .milliseconds(500))
        let termination = await process.wait()
        let elapsed = ContinuousClock.now - started
        #expect(termination.signal == SIGKILL)
        #expect(elapsed >= .milliseconds(450))
        // Far below the step's 100 s: SIGKILL followed the grace period.
        #expect(elapsed < .seconds(30))
    }

    @Test func childrenGetTheGracePeriodAfterBashExits() async throws {
        let process = try Self.launch(
            "(trap 'sleep 0.2; echo cleaned-up; exit 0' TERM; echo ready; while :; do sleep 0.05; done) & wait")
        var text = ""
        let reader = Task { () -> String in
            var all = ""
            for await (_, chunk) in process.output { all += String(decoding: chunk, as: UTF8.self) }
            return all
        }
        try await Task.sleep(for: .milliseconds(300))  // let the subshell install its trap
        process.terminateGroup(gracePeriod: .seconds(3))
        let termination = await process.wait()
        text = await reader.value
        #expect(termination.signal == SIGTERM)  // bash itself died at once
        #expect(text.contains("ready"))
        #expect(text.contains("cleaned-up"))  // the subshell's handler ran to completion
    }

    @Test func closingOutputEarlyStillAllowsTermination() async throws {
        let process = try Self.launch("exec >&- 2>&-; sleep 100")
        for await _ in process.output {}  // ends as soon as bash closes both pipes
        #expect(process.termination == nil)
        process.terminateGroup(gracePeriod: .seconds(2))
        #expect(await process.wait().signal == SIGTERM)
    }

    @Test func terminateAfterExitIsHarmless() async throws {
        let process = try Self.launch("exit 7")
        #expect(await process.wait().exitCode == 7)
        process.terminateGroup(gracePeriod: .milliseconds(10))
        try await Task.sleep(for: .milliseconds(50))
        #expect(process.termination?.exitCode == 7)
    }

    @Test func manyShortLaunchesDoNotLeakDescriptors() async throws {
        // Other suites run in parallel in this process and open descriptors of their own meanwhile
        // (integration tests spawn processes with pipes), so one window can grow by chance. A leak
        // of even one descriptor per launch grows every window by 100 or more: the quietest of
        // three windows tells them apart.
        var growth: [Int] = []
        for round in 0..<3 {
            let before = Self.openDescriptorCount()
            for index in 0..<100 {
                let process = try Self.launch("echo \(round)-\(index)")
                let (out, _) = await Self.collect(process)
                #expect(out == "\(round)-\(index)\n")
                #expect(await process.wait().succeeded)
            }
            growth.append(Self.openDescriptorCount() - before)
        }
        #expect(growth.min()! < 100, "descriptors grew by \(growth) over three windows of 100 launches")
    }

    @Test func sequentialLaunchesReuseReaderThreads() async throws {
        func threads() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0 }
        let warmUp = try Self.launch("true")
        _ = await Self.collect(warmUp)
        _ = await warmUp.wait()
        let before = threads()
        for _ in 0..<100 {
            let process = try Self.launch("true")
            _ = await Self.collect(process)
            _ = await process.wait()
        }
        // Pooled reader threads stay alive for a minute when idle, so if they were not reused
        // each launch would leave one more. Suites running in parallel start a few of their own.
        #expect(threads() - before < 40, "threads went from \(before) to \(threads())")
    }
}
