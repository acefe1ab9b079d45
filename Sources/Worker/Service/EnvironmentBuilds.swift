import Foundation
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Builds the Python environments steps run in, once per environment digest, and reuses them.
///
/// A virtual environment lives in `ROOT/DIGEST` (ROOT is `WORK_DIR/envs`). It is built in place
/// (a virtual environment cannot be moved: its scripts name their own path), and a marker file
/// written last says it is complete; a directory without the marker is a failed or interrupted
/// build and is removed before building again. Builds of one digest happen once: within this process
/// later callers wait for the build in progress; across processes sharing the directory a lock file
/// (`ROOT/DIGEST.lock`, `flock`) serialises them, and the second finds the marker.
///
/// An interpreter the environments file maps to is not built: it is used where it is, started
/// from its own path. Either way the result is a shared environment that steps must not change:
/// each attempt runs in an ``AttemptLayer`` made over it.
public actor EnvironmentBuilds {
    /// A prepared shared environment: what each attempt's ``AttemptLayer`` is made over.
    public struct Prepared: Sendable, Hashable {
        /// The shared interpreter, as it is started: `ENV/bin/python` of a built virtual
        /// environment, or the mapped interpreter's path as written (never resolved through links:
        /// a virtual environment's `python` finds its `pyvenv.cfg` beside the path it was started
        /// from). Nil for the worker's own `python3`, which gets no layer.
        public var interpreter: String?
        /// The shared environment's own `bin` (console scripts such as `jupyter`), on `PATH` after
        /// the attempt's layer: `ENV/bin`, or the directory the mapped interpreter is in.
        public var binDirectory: String?
        /// `WORK_DIR/envs/DIGEST` of a built virtual environment; nil for a mapped interpreter.
        public var environmentDirectory: String?
        /// What the interpreter said about itself (its site-packages, version, pip).
        public var facts: PythonFacts?

        public init(interpreter: String? = nil, binDirectory: String? = nil, environmentDirectory: String? = nil, facts: PythonFacts? = nil) {
            self.interpreter = interpreter
            self.binDirectory = binDirectory
            self.environmentDirectory = environmentDirectory
            self.facts = facts
        }
    }

    /// Why an environment could not be prepared; `message` names the environment.
    public struct BuildFailure: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Where the output of a build goes (the log of the attempt that started it).
    public typealias LogSink = @Sendable (String) async -> Void

    /// Marker file written when a build is complete.
    static let readyMarker = ".conduit-ready"

    public let root: String
    /// The environment the build commands start from (the worker's).
    let baseEnvironment: [String: String]
    private var inFlight: [String: Task<Result<Prepared, BuildFailure>, Never>] = [:]
    private var ready: [String: Prepared] = [:]
    /// Builds this process started, by digest (a build that finds another process's finished one
    /// counts too): what tests check to see that waiters share a build.
    public private(set) var startedBuilds: [String: Int] = [:]

    public init(root: String, baseEnvironment: [String: String]) {
        self.root = root
        self.baseEnvironment = baseEnvironment
    }

    /// Prepares `setup`: reuses a built environment, waits for a build in progress, or builds it,
    /// sending the build's output to `log`.
    public func prepare(_ setup: DispatchEnvironment, log: @escaping LogSink) async -> Result<Prepared, BuildFailure> {
        if setup.kind == .workerPython { return .success(Prepared()) }
        if let prepared = ready[setup.digest] { return .success(prepared) }
        if let task = inFlight[setup.digest] {
            await log("conduit: waiting for the environment \(setup.label) being built for another attempt on this worker\n")
            return await task.value
        }
        let root = self.root
        let base = baseEnvironment
        let task = Task { await Self.build(setup, root: root, baseEnvironment: base, log: log) }
        inFlight[setup.digest] = task
        startedBuilds[setup.digest, default: 0] += 1
        let result = await task.value
        inFlight[setup.digest] = nil
        switch result {
        case .success(let prepared):
            ready[setup.digest] = prepared
        case .failure:
            break
        }
        return result
    }

    // MARK: Building (off the actor)

    private static func build(
        _ setup: DispatchEnvironment, root: String, baseEnvironment: [String: String], log: @escaping LogSink
    ) async -> Result<Prepared, BuildFailure> {
        if setup.kind == .interpreter {
            return await mapInterpreter(setup, baseEnvironment: baseEnvironment)
        }
        let directory = root + "/" + setup.digest
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            return .failure(BuildFailure(message: "environment \(setup.label): cannot create \(root): \(error.localizedDescription)"))
        }
        if isReady(directory) { return await described(setup, directory: directory, baseEnvironment: baseEnvironment) }
        guard let lockDescriptor = await Self.lock(root + "/" + setup.digest + ".lock") else {
            return .failure(BuildFailure(message: "environment \(setup.label): cannot lock \(root)/\(setup.digest).lock"))
        }
        defer { Self.unlock(lockDescriptor) }
        if isReady(directory) {  // built by another process meanwhile
            return await described(setup, directory: directory, baseEnvironment: baseEnvironment)
        }
        try? FileManager.default.removeItem(atPath: directory)  // an interrupted or failed build
        await log("conduit: building the environment \(setup.label) in \(directory)\n")
        if let outcome = await buildVirtualEnvironment(setup, in: directory, baseEnvironment: baseEnvironment, log: log) {
            try? FileManager.default.removeItem(atPath: directory)
            await log("conduit: \(outcome.message)\n")
            return .failure(outcome)
        }
        guard FileManager.default.createFile(atPath: directory + "/" + readyMarker, contents: Data((setup.label + "\n").utf8)) else {
            return .failure(BuildFailure(message: "environment \(setup.label): cannot write \(directory)/\(readyMarker)"))
        }
        await log("conduit: the environment \(setup.label) is ready\n")
        return await described(setup, directory: directory, baseEnvironment: baseEnvironment)
    }

    /// A built virtual environment, with its interpreter's facts.
    private static func described(_ setup: DispatchEnvironment, directory: String, baseEnvironment: [String: String]) async -> Result<Prepared, BuildFailure> {
        let interpreter = directory + "/bin/python"
        switch await PythonFacts.probe(interpreter, environment: baseEnvironment) {
        case .success(let facts):
            return .success(Prepared(interpreter: interpreter, binDirectory: directory + "/bin", environmentDirectory: directory, facts: facts))
        case .failure(let failure):
            return .failure(BuildFailure(
                message: "environment \(setup.label): its interpreter does not run (\(failure.message)); remove \(directory) to build it again"
            ))
        }
    }

    /// An interpreter the environments file maps to: used where it is, as it is (nothing is built
    /// or linked), after asking it for its facts.
    private static func mapInterpreter(_ setup: DispatchEnvironment, baseEnvironment: [String: String]) async -> Result<Prepared, BuildFailure> {
        guard let interpreter = setup.python else {
            return .failure(BuildFailure(message: "environment \(setup.label) names no interpreter"))
        }
        guard access(interpreter, X_OK) == 0 else {
            return .failure(BuildFailure(
                message: "environment \(setup.label) maps to the interpreter \(interpreter), which does not exist or is not executable on this worker; fix the environments file"
            ))
        }
        switch await PythonFacts.probe(interpreter, environment: baseEnvironment) {
        case .success(let facts):
            let bin = (interpreter as NSString).deletingLastPathComponent
            return .success(Prepared(interpreter: interpreter, binDirectory: bin, facts: facts))
        case .failure(let failure):
            return .failure(BuildFailure(
                message: "environment \(setup.label) maps to the interpreter \(interpreter), which does not run as Python on this worker (\(failure.message)); fix the environments file"
            ))
        }
    }

    private static func isReady(_ directory: String) -> Bool {
        access(directory + "/" + readyMarker, F_OK) == 0
    }

    /// `python -m venv` (without pip when there is nothing to install), then `pip install`.
    private static func buildVirtualEnvironment(
        _ setup: DispatchEnvironment, in directory: String, baseEnvironment: [String: String], log: @escaping LogSink
    ) async -> BuildFailure? {
        let pythonName = setup.python.map { "python" + $0 } ?? "python3"
        var environment = baseEnvironment
        environment["VIRTUAL_ENV"] = nil
        environment["PYTHONHOME"] = nil
        environment["PIP_NO_INPUT"] = "1"
        environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        guard let python = SimpleCommand.resolve(pythonName, path: environment["PATH"], workingDirectory: "/") else {
            return BuildFailure(
                message: "environment \(setup.label) needs \(pythonName), which is not on this worker's PATH; install it, or map the environment to an interpreter in the environments file"
            )
        }
        var create = [python, "-m", "venv"]
        if setup.requirements.isEmpty { create.append("--without-pip") }
        create.append(directory)
        if let status = await run(create, environment: environment, log: log) {
            return BuildFailure(
                message: "environment \(setup.label) could not be built: '\(pythonName) -m venv' \(status); its output is in this attempt's log (conduit logs)"
            )
        }
        guard !setup.requirements.isEmpty else { return nil }
        let install = [directory + "/bin/python", "-m", "pip", "install", "--no-input", "--disable-pip-version-check"] + setup.requirements
        if let status = await run(install, environment: environment, log: log) {
            return BuildFailure(
                message: "environment \(setup.label) could not be built: pip install \(status); its output is in this attempt's log (conduit logs)"
            )
        }
        return nil
    }

    /// Runs `arguments`, streaming its output to `log`; nil on success, else how it ended.
    private static func run(_ arguments: [String], environment: [String: String], log: @escaping LogSink) async -> String? {
        await log("$ " + arguments.map(shellQuoted).joined(separator: " ") + "\n")
        let process: ChildProcess
        do {
            process = try ChildProcess.launch(
                command: arguments.map(shellQuoted).joined(separator: " "), workingDirectory: "/", environment: environment
            )
        } catch {
            return "could not start: \(error)"
        }
        for await (_, bytes) in process.output {
            await log(String(decoding: bytes, as: UTF8.self))
        }
        let termination = await process.wait()
        if termination.exitCode == 0 { return nil }
        return termination.exitCode.map { "exited with status \($0)" } ?? "was killed by signal \(termination.signal ?? 0)"
    }

    /// `text` as one bash word.
    static func shellQuoted(_ text: String) -> String {
        if !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || "_./=:+,@%-".contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// An exclusive `flock` on `path`, taken on a dispatch thread (it may wait for another process).
    private static func lock(_ path: String) async -> Int32? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else { return continuation.resume(returning: nil) }
                while flock(descriptor, LOCK_EX) != 0 {
                    if errno != EINTR {
                        close(descriptor)
                        return continuation.resume(returning: nil)
                    }
                }
                continuation.resume(returning: descriptor)
            }
        }
    }

    private static func unlock(_ descriptor: Int32) {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
