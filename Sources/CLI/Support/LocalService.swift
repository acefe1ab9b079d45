import AsyncHTTPClient
import Crypto
import Foundation
import Glibc
import Worker

/// The local service of a data directory, seen from a client: where its socket is, whether it
/// answers, and starting it (detached, in a session of its own) when it does not.
///
/// Several clients may start it at once: each spawns `conduit service run`, one takes the data
/// directory's lock and serves, the others exit, and every client waits for the socket to answer.
enum LocalService {
    /// What a running service writes to `service.json` in its data directory.
    struct State: Codable, Equatable {
        var pid: Int32
        var socket: String
        var slots: Int
        var datastores: [String: String]
        /// What steps inherit that a shell commonly changes (`PATH`, `VIRTUAL_ENV`, `CONDA_PREFIX`), and
        /// the simulated GPUs: the environment of the command that started the service.
        var environment: [String: String]?
        /// The loopback TCP port of the studio (a browser cannot open the Unix socket) and the token it
        /// asks for (this file is the user's alone).
        var studioPort: Int?
        var studioToken: String?
    }

    /// The variables of this process that decide which programs a step finds.
    static func stepEnvironment() -> [String: String] {
        let all = ProcessInfo.processInfo.environment
        return ["PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDUIT_SIMULATED_GPUS"].reduce(into: [:]) { chosen, name in chosen[name] = all[name] ?? "" }
    }

    /// How long a client waits for a service it started to answer.
    static let startDeadline: Duration = .seconds(30)

    static func absolute(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (joined as NSString).standardizingPath
    }

    /// `DIR/service.sock`; a path too long for a Unix socket (108 bytes) is replaced by one named
    /// after the data directory in `/tmp/conduit-UID`, a folder that must belong to this user and be
    /// closed to others (`creating`: made so when missing).
    static func socketPath(of dataDirectory: String, creating: Bool = false) throws -> String {
        let inside = dataDirectory + "/service.sock"
        if inside.utf8.count < 100 { return inside }
        let folder = "/tmp/conduit-\(getuid())"
        if creating { mkdir(folder, 0o700) }
        var info = stat()
        guard lstat(folder, &info) == 0 else {
            // Not made yet: no service can be listening there.
            if errno == ENOENT && !creating { return folder + "/missing.sock" }
            throw CLIError("cannot use \(folder) for the local service's socket: \(String(cString: strerror(errno)))", exitCode: ExitStatus.unavailable)
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw CLIError(
                "\(folder) is not a folder of this user closed to others, so the local service's socket cannot go there (the data directory's path is too long for a socket beside it); remove it, or use a shorter CONDUIT_HOME",
                exitCode: ExitStatus.unavailable)
        }
        let digest = SHA256.hash(data: Data(dataDirectory.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return "\(folder)/\(digest).sock"
    }

    static func state(of dataDirectory: String) -> State? {
        guard let data = FileManager.default.contents(atPath: dataDirectory + "/service.json") else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    static func write(_ state: State, to dataDirectory: String) {
        guard let data = try? JSONEncoder().encode(state) else { return }
        let path = dataDirectory + "/service.json"
        FileManager.default.createFile(atPath: path + ".tmp", contents: data, attributes: [.posixPermissions: 0o600])
        rename(path + ".tmp", path)
    }

    /// Removes what a stopping service left (its state file and socket), unless a newer one wrote them.
    static func remove(_ state: State, from dataDirectory: String) {
        guard self.state(of: dataDirectory) == state else { return }
        unlink(dataDirectory + "/service.json")
        unlink(state.socket)
    }

    /// Whether process `pid` runs (an exited one nobody has reaped yet does not).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// Seconds in `15m`, `90s`, `2h`, `1d` or a bare number of seconds; `0` is never.
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last], let value = Int(text.dropLast()), value >= 0 { return value * unit }
        if let value = Int(text), value >= 0 { return value }
        return nil
    }

    /// Whether something accepts connections on the service's socket.
    static func answers(_ dataDirectory: String) async -> Bool {
        guard let socket = try? socketPath(of: dataDirectory) else { return false }
        return accepts(socket)
    }

    /// Whether `pid` is the local service of `dataDirectory` (not another process that took its
    /// number after it died without cleaning up).
    static func isService(_ pid: Int32, of dataDirectory: String) -> Bool {
        guard isAlive(pid), let bytes = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let words = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return words.contains("service") && words.contains("run") && words.contains(dataDirectory)
    }

    static func accepts(_ socket: String) -> Bool {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socket.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }

    /// A client of the local service of `dataDirectory`, started first when none answers, with
    /// `slots` and `datastores` (a running service keeps its own; asking for datastores it lacks is
    /// an error naming `conduit service stop`).
    static func client(dataDirectory: String, slots: Int? = nil, datastores: [String: String] = [:]) async throws -> HTTPCoordinatorClient {
        let data = absolute(dataDirectory)
        let datastores = datastores.mapValues(absolute)
        let socket = try socketPath(of: data, creating: true)
        guard let client = HTTPCoordinatorClient(socketPath: socket) else {
            throw CLIError("the local service's socket path \(socket) cannot be used in a URL; use another CONDUIT_HOME", exitCode: ExitStatus.usage)
        }
        if accepts(socket) {
            try check(await publishedState(of: data), wants: datastores, data: data)
            return client
        }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var child = try spawn(data: data, slots: slots, datastores: datastores)
        let deadline = ContinuousClock.now + startDeadline
        while ContinuousClock.now < deadline {
            if accepts(socket) {
                try check(await publishedState(of: data), wants: datastores, data: data)
                return client
            }
            var status: Int32 = 0
            if child > 0, waitpid(child, &status, WNOHANG) == child {
                // The one we started lost the race to another client's (which answers soon), or met a
                // service that was stopping: start another unless one answers meanwhile.
                child = 0
                try await Task.sleep(for: .milliseconds(200))
                if !accepts(socket) { child = try spawn(data: data, slots: slots, datastores: datastores) }
                continue
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let log = (try? String(contentsOfFile: data + "/service.log", encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
        throw CLIError(
            "the local service for \(data) did not start within \(startDeadline.components.seconds) s; its log (\(data)/service.log) ends with:\n\(log)",
            exitCode: ExitStatus.unavailable)
    }

    /// The state file of a service that answers: it is written once all its listeners are up, a
    /// moment after the socket first accepts; nil if it does not come within 5 s.
    static func publishedState(of data: String) async -> State? {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let state = state(of: data), isAlive(state.pid) { return state }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    private static func check(_ state: State?, wants datastores: [String: String], data: String) throws {
        guard let state else { return }
        if let environment = state.environment, environment != stepEnvironment() {
            let differing = environment.keys.sorted().filter { environment[$0] != stepEnvironment()[$0] }
            FileHandle.standardError.write(Data(
                "conduit: note: the local service runs steps with the \(differing.joined(separator: ", ")) of the shell that started it, not this one's; `conduit service stop` and run again to use this shell's\n".utf8))
        }
        let missing = datastores.filter { state.datastores[$0.key] != $0.value }
        guard missing.isEmpty else {
            let names = missing.keys.sorted().map { "\($0)=\(missing[$0]!)" }.joined(separator: ", ")
            throw CLIError(
                "the local service for \(data) runs without --datastore \(names); stop it with `conduit service stop` (runs in progress resume when it starts again) and run this again",
                exitCode: ExitStatus.usage)
        }
    }

    /// Starts `conduit service run` for `data`, in a session of its own (a Ctrl-C in this terminal
    /// does not reach it), its output appended to `service.log`.
    private static func spawn(data: String, slots: Int?, datastores: [String: String]) throws -> pid_t {
        var arguments = ["conduit", "service", "run", "--data-dir", data]
        if let slots { arguments += ["--slots", String(slots)] }
        for name in datastores.keys.sorted() { arguments += ["--datastore", "\(name)=\(datastores[name]!)"] }
        var executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // Replaced since this process started: the new binary at the same path.
        if executable.hasSuffix(" (deleted)") { executable = String(executable.dropLast(" (deleted)".count)) }
        // The log grows by what each service writes: past 16 MiB it is kept as service.log.1 and begun anew.
        let log = data + "/service.log"
        if let size = (try? FileManager.default.attributesOfItem(atPath: log))?[.size] as? Int, size > 16 << 20 {
            rename(log, log + ".1")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of this client (a caller's pipe, a build tool's descriptors) stays open in the
        // long-lived service, and it holds no client's working directory.
        if let addCloseFrom = SpawnSymbols.addCloseFrom { _ = addCloseFrom(&actions, 3) }
        if let addChdir = SpawnSymbols.addChdir { _ = addChdir(&actions, "/") }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc 2.26 and later; Swift does not import the GNU constant).
        let spawnSetSID: Int16 = 0x80
        posix_spawnattr_setflags(&attributes, spawnSetSID)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw CLIError("cannot start the local service (\(executable)): \(String(cString: strerror(result)))", exitCode: ExitStatus.unavailable)
        }
        return pid
    }
}
