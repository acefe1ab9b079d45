import Foundation

/// Starts real `conduit` processes for integration and fault tests, and cleans them up.
///
/// Children run in their own process groups so that a test can kill a whole worker (and the
/// steps it runs) with one signal.
public enum ProcessHarness {
    /// The `conduit` executable built alongside the tests: `$CONDUIT_BIN`, else
    /// `.build/debug/conduit` (or release) under the package root.
    public static func conduitExecutable(filePath: String = #filePath) -> String {
        if let explicit = ProcessInfo.processInfo.environment["CONDUIT_BIN"], !explicit.isEmpty { return explicit }
        let root = URL(fileURLWithPath: packageRoot(filePath: filePath))
        for candidate in [".build/debug/conduit", ".build/release/conduit"] {
            let path = root.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/conduit").path
    }

    /// The package root (for fixtures and examples).
    public static func packageRoot(filePath: String = #filePath) -> String {
        var root = URL(fileURLWithPath: filePath)
        while root.path != "/" && !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            root.deleteLastPathComponent()
        }
        return root.path
    }

    /// A fresh temporary directory.
    public static func temporaryDirectory(_ prefix: String = "conduit-test") throws -> String {
        let path = NSTemporaryDirectory() + prefix + "-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A child process whose output is collected in memory.
public final class ChildHandle: @unchecked Sendable {
    // `@unchecked Sendable`: `output` is guarded by `lock`; `process` is only used through its
    // own thread-safe methods.
    public let process: Process
    private let lock = NSLock()
    private var output = Data()
    public let name: String

    /// Starts `executable` with `arguments`; stdout and stderr are captured together.
    public init(name: String, executable: String, arguments: [String], environment: [String: String] = [:], directory: String? = nil) throws {
        self.name = name
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        process.environment = merged
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                // End of file: stop, or the handler is called again and again, spinning a core.
                handle.readabilityHandler = nil
                return
            }
            guard let self else { return }
            self.lock.withLock { self.output.append(data) }
        }
        try process.run()
    }

    /// Everything printed so far.
    public var text: String {
        lock.withLock { String(decoding: output, as: UTF8.self) }
    }

    /// Waits until the output contains `needle`; returns the output, or nil after `timeout`.
    public func waitForOutput(containing needle: String, timeout: Duration = .seconds(30)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = text
            if current.contains(needle) { return current }
            if !process.isRunning { return text.contains(needle) ? text : nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Waits for the process to exit (at most `timeout`) and returns its status, or nil.
    public func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Stops the process: SIGTERM, then SIGKILL if it lingers.
    public func stop() async {
        signal(SIGTERM)
        if await waitForExit(timeout: .seconds(5)) == nil {
            signal(SIGKILL)
            _ = await waitForExit(timeout: .seconds(5))
        }
    }
}

/// A coordinator and workers as separate processes on loopback, each test with its own data.
///
/// They authenticate with CURVE as in production: `conduit keys generate` makes a key pair for the
/// coordinator and for each worker (under `keys/`), and each worker's public key is allowed with
/// `conduit workers allow` before the worker starts (unless a test asks otherwise).
public final class Cluster: @unchecked Sendable {
    // `@unchecked Sendable`: mutable state is only touched from the test that owns the cluster.
    public let directory: String
    public let executable: String
    public private(set) var coordinator: ChildHandle!
    public private(set) var workers: [ChildHandle] = []
    public private(set) var httpURL = ""
    public private(set) var zmqEndpoint = ""
    /// Where the key files are: `NAME.secret` and `NAME.public`.
    public var keyDirectory: String { directory + "/keys" }
    /// Extra arguments for `conduit coordinator` (set before `start`), e.g. `--config FILE`.
    public var coordinatorOptions: [String] = []
    /// A command the coordinator runs under (set before `start`), e.g. `["/usr/bin/prlimit", "--nofile=400:400", "--"]`:
    /// the conduit executable and its arguments follow it.
    public var coordinatorLauncher: [String] = []

    public init() throws {
        directory = try ProcessHarness.temporaryDirectory("conduit-cluster")
        executable = ProcessHarness.conduitExecutable()
    }

    /// Starts the coordinator (ZeroMQ on a free port below the ephemeral range, so that a worker
    /// reconnecting across ``restartCoordinator()`` cannot connect to itself there; HTTP on an
    /// ephemeral port) and `workers` workers with `slots` each.
    public func start(workers count: Int, slots: Int = 1, labels: [[String]] = []) async throws {
        try await generateKeys(name: "coordinator")
        coordinator = try startCoordinator(listen: "tcp://127.0.0.1:\(try LoopbackPort.unusedBelowEphemeralRange())")
        guard let line = await coordinator.waitForOutput(containing: "clients on http://", timeout: .seconds(30)) else {
            throw HarnessError("the coordinator did not start:\n\(coordinator.text)")
        }
        httpURL = Self.capture(after: "clients on ", in: line)
        zmqEndpoint = Self.capture(after: "workers on ", in: line).replacingOccurrences(of: ",", with: "")
        for index in 0..<count {
            try await addWorker(name: "worker\(index + 1)", slots: slots, labels: index < labels.count ? labels[index] : [])
        }
    }

    /// Kills the coordinator with SIGKILL and starts it again on the same ZeroMQ endpoint and
    /// data directory (the HTTP port may change; `httpURL` is updated).
    public func restartCoordinator() async throws {
        coordinator.signal(SIGKILL)
        _ = await coordinator.waitForExit(timeout: .seconds(10))
        coordinator = try startCoordinator(listen: zmqEndpoint)
        guard let line = await coordinator.waitForOutput(containing: "clients on http://", timeout: .seconds(30)) else {
            throw HarnessError("the coordinator did not restart:\n\(coordinator.text)")
        }
        httpURL = Self.capture(after: "clients on ", in: line)
    }

    /// Starts `conduit coordinator` listening on `listen`, under ``coordinatorLauncher`` if one is set.
    private func startCoordinator(listen: String) throws -> ChildHandle {
        let arguments = coordinatorArguments(listen: listen)
        guard let launcher = coordinatorLauncher.first else {
            return try ChildHandle(name: "coordinator", executable: executable, arguments: arguments)
        }
        return try ChildHandle(
            name: "coordinator", executable: launcher, arguments: coordinatorLauncher.dropFirst() + [executable] + arguments)
    }

    private func coordinatorArguments(listen: String) -> [String] {
        [
            "coordinator", "--data-dir", directory + "/coordinator", "--listen", listen, "--http", "127.0.0.1:0", "--worker-timeout", "5",
            "--secret-key", keyDirectory + "/coordinator.secret",
        ] + coordinatorOptions
    }

    /// Runs `conduit keys generate --name NAME` into ``keyDirectory``.
    public func generateKeys(name: String) async throws {
        let result = try await cli(["keys", "generate", "--name", name, "--dir", keyDirectory])
        guard result.status == 0 else { throw HarnessError("conduit keys generate --name \(name) failed:\n\(result.stderr)") }
    }

    /// Starts one more worker with a key pair of its own and waits until it registered.
    ///
    /// With `allowKey` false its key is not put on the allow-list and nothing is waited for: the
    /// coordinator must never let it in.
    @discardableResult
    public func addWorker(
        name: String, slots: Int = 1, labels: [String] = [], allowKey: Bool = true, options: [String] = [], environment: [String: String] = [:]
    ) async throws -> ChildHandle {
        try await generateKeys(name: name)
        if allowKey {
            let allowed = try await cli(["workers", "allow", keyDirectory + "/\(name).public", "--name", name])
            guard allowed.status == 0 else { throw HarnessError("conduit workers allow for \(name) failed:\n\(allowed.stderr)") }
        }
        var arguments = [
            "worker", "--coordinator", zmqEndpoint, "--slots", "\(slots)", "--name", name, "--work-dir", directory + "/" + name,
            "--secret-key", keyDirectory + "/\(name).secret", "--coordinator-key", keyDirectory + "/coordinator.public",
        ]
        for label in labels { arguments += ["--label", label] }
        let worker = try ChildHandle(name: name, executable: executable, arguments: arguments + options, environment: environment)
        workers.append(worker)
        guard allowKey else { return worker }
        guard await worker.waitForOutput(containing: "registered with the coordinator", timeout: .seconds(30)) != nil else {
            throw HarnessError("worker \(name) did not register:\n\(worker.text)")
        }
        return worker
    }

    /// Runs the CLI against this cluster; returns (exit status, stdout, stderr).
    public func cli(_ arguments: [String], timeout: Duration = .seconds(120), directory: String? = nil) async throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CONDUIT_URL"] = httpURL
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = Locked(Data())
        let errData = Locked(Data())
        out.fileHandleForReading.readabilityHandler = { handle in let d = handle.availableData; outData.withLock { $0.append(d) } }
        err.fileHandleForReading.readabilityHandler = { handle in let d = handle.availableData; errData.withLock { $0.append(d) } }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                process.terminate()
                throw HarnessError("conduit \(arguments.joined(separator: " ")) did not finish in \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try? await Task.sleep(for: .milliseconds(50))
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        outData.withLock { $0.append(out.fileHandleForReading.readDataToEndOfFile()) }
        errData.withLock { $0.append(err.fileHandleForReading.readDataToEndOfFile()) }
        return CLIResult(
            status: process.terminationStatus,
            stdout: outData.withLock { String(decoding: $0, as: UTF8.self) },
            stderr: errData.withLock { String(decoding: $0, as: UTF8.self) }
        )
    }

    /// Stops every process and removes the directory.
    public func shutdown() async {
        for worker in workers { await worker.stop() }
        await coordinator?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func capture(after marker: String, in text: String) -> String {
        guard let range = text.range(of: marker) else { return "" }
        return String(text[range.upperBound...].prefix { !$0.isWhitespace && $0 != "\n" })
    }
}

/// The outcome of one CLI invocation.
public struct CLIResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// The `--json` object printed on stdout.
    public func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw HarnessError("stdout is not a JSON object:\n\(stdout)\nstderr:\n\(stderr)")
        }
        return object
    }
}

/// A harness failure with the context needed to debug it.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A value behind a lock.
public final class Locked<Value>: @unchecked Sendable {
    // `@unchecked Sendable`: every access goes through `lock`.
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.withLock { body(&value) }
    }
}
