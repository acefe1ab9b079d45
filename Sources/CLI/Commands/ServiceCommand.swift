import ArgumentParser
import Coordinator
import Foundation
import HTTPAPI
import Logging
import ServiceLifecycle
import Transport
import Worker
import ZeroMQ

/// `conduit service`: the local service that `conduit run` and every client command use on this
/// machine (a coordinator and a worker for one data directory, on a Unix socket inside it).
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "The local service behind `conduit run`: see whether it runs, stop it, or run it in the foreground.",
        discussion: """
            The first command that needs the runs under $CONDUIT_HOME (default $HOME/.conduit) starts a \
            local coordinator and worker for that directory, listening on the Unix socket \
            $CONDUIT_HOME/service.sock; every later command (run, status, runs, logs, explain, diff, \
            rerun, ...) from any terminal reaches it with no flag. It exits once no run has been going for \
            --idle-exit (15 minutes by default). Its log is $CONDUIT_HOME/service.log.
            """,
        subcommands: [ServiceStatusCommand.self, ServiceStopCommand.self, ServiceRunCommand.self],
        defaultSubcommand: ServiceStatusCommand.self
    )
}

/// Which data directory a service command is about.
struct ServiceDirectoryOption: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The data directory (default: $CONDUIT_HOME, else $HOME/.conduit).", valueName: "DIR"))
    var dataDirectory: String?

    var resolved: String { LocalService.absolute(dataDirectory ?? EmbeddedSystem.defaultDataDirectory) }
}

struct ServiceStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Say whether the local service runs, and where.")

    @OptionGroup var directory: ServiceDirectoryOption

    func run() async throws {
        try await withCLIErrors {
            let data = directory.resolved
            guard let state = LocalService.state(of: data), await LocalService.answers(data) else {
                print("the local service for \(data) is not running (the next command that needs it starts it)")
                return ExitStatus.success
            }
            print("the local service for \(data) runs: pid \(state.pid), \(state.slots) slots, socket \(state.socket), log \(data)/service.log")
            return ExitStatus.success
        }
    }
}

struct ServiceStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop the local service: runs in progress are interrupted and resume when it starts again."
    )

    @OptionGroup var directory: ServiceDirectoryOption

    func run() async throws {
        try await withCLIErrors {
            let data = directory.resolved
            guard let state = LocalService.state(of: data), LocalService.isService(state.pid, of: data) else {
                print("the local service for \(data) is not running")
                return ExitStatus.success
            }
            kill(state.pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(30)
            while LocalService.isAlive(state.pid), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            guard !LocalService.isAlive(state.pid) else {
                throw CLIError("the local service (pid \(state.pid)) did not stop within 30 s; see \(data)/service.log", exitCode: ExitStatus.unavailable)
            }
            print("stopped the local service for \(data) (pid \(state.pid))")
            return ExitStatus.success
        }
    }
}

/// `conduit service run`: the service itself, in the foreground (what clients start, detached).
struct ServiceRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the local service in the foreground (clients start it on their own when needed)."
    )

    @OptionGroup var directory: ServiceDirectoryOption

    @Option(name: .customLong("idle-exit"), help: ArgumentHelp("Exit once no run has been going for this long: 15m, 90s, 2h; 0 never (default: $CONDUIT_SERVICE_IDLE_EXIT, else 15m).", valueName: "DURATION"))
    var idleExit: String?

    @Option(help: "Steps run at once by the local worker (default: the number of cores).")
    var slots: Int?

    @OptionGroup var datastores: DatastoreOptions
    @OptionGroup var logging: LogOptions

    func validate() throws {
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1") }
        if let text = idleExit, LocalService.seconds(text) == nil {
            throw ValidationError("--idle-exit \(text): expected a duration such as 15m, 90s or 2h (0: never)")
        }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .info)
        MemoryTuning.keepLargeBuffers()
        try await withCLIErrors {
            let data = directory.resolved
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let idleText = idleExit ?? ProcessInfo.processInfo.environment["CONDUIT_SERVICE_IDLE_EXIT"].flatMap { $0.isEmpty ? nil : $0 } ?? "15m"
            guard let idleSeconds = LocalService.seconds(idleText) else {
                throw CLIError("CONDUIT_SERVICE_IDLE_EXIT=\(idleText): expected a duration such as 15m, 90s or 2h (0: never)")
            }
            let slots = slots ?? ProcessInfo.processInfo.activeProcessorCount
            let extra = try datastores.directories()
            let logger = Logger(label: "conduit.service")
            // The socket and every file the service makes are the user's alone, from the start.
            umask(0o077)
            let socket = try LocalService.socketPath(of: data, creating: true)
            let pair = try await EmbeddedSystem.pair(dataDirectory: data, slots: slots, datastores: extra, logger: logger)
            defer { pair.loop.shutdown() }
            // This process holds the data directory's lock (taken by the coordinator above): a socket
            // file left there is a stale one.
            unlink(socket)
            let state = LocalService.State(pid: getpid(), socket: socket, slots: slots, datastores: extra, environment: LocalService.stepEnvironment())
            var settings = HTTPServerSettings.standard
            // Every client of the socket counts as one address: the per-address limit would be the total.
            settings.maximumConnectionsPerAddress = settings.maximumConnections
            let activity = RequestActivity()
            let application = try CoordinatorHTTPServer.application(
                service: pair.coordinator, host: "localhost", port: 0, settings: settings, logger: logger, unixSocket: socket, activity: activity
            ) { _ in
                LocalService.write(state, to: data)
                logger.info("local service ready", metadata: ["socket": "\(socket)", "slots": "\(slots)", "pid": "\(getpid())"])
            }
            let idle = IdleExit(coordinator: pair.coordinator, activity: activity, dataDirectory: data, idleSeconds: idleSeconds, logger: logger)
            // Shut down in reverse order: no more requests, then the worker hands back what it runs,
            // then the coordinator records it and closes its store.
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [
                        .init(service: pair.coordinator),
                        .init(service: pair.worker),
                        .init(service: application),
                        .init(service: idle, successTerminationBehavior: .gracefullyShutdownGroup),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
                )
            )
            defer { LocalService.remove(state, from: data) }
            try await group.run()
            return ExitStatus.success
        }
    }
}

/// Ends the local service once no run has been going (and no request came) for `idleSeconds`, or at
/// once when its data directory is removed (a temporary directory of a script or a test).
struct IdleExit: Service {
    let coordinator: CoordinatorService
    let activity: RequestActivity
    let dataDirectory: String
    let idleSeconds: Int
    let logger: Logger

    func run() async throws {
        var idleSince = ContinuousClock.now
        var identity = stat()
        stat(dataDirectory, &identity)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            var now = stat()
            if stat(dataDirectory, &now) != 0 || now.st_ino != identity.st_ino {
                logger.notice("the data directory \(dataDirectory) is gone: stopping the local service")
                return
            }
            if await coordinator.activeRunCount > 0 || activity.secondsSinceLastRequest < 2 {
                idleSince = ContinuousClock.now
            } else if idleSeconds > 0, ContinuousClock.now - idleSince >= .seconds(idleSeconds) {
                logger.info("no run for \(idleSeconds) s: stopping the local service")
                return
            }
        }
    }
}
