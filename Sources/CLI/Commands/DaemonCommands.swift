import ArgumentParser
import Coordinator
import Foundation
import HTTPAPI
import Logging
import ServiceLifecycle
import Transport
import Worker
import ZeroMQ

/// `conduit coordinator`: the daemon that holds runs and dispatches steps to workers.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Start the coordinator daemon: ZeroMQ for workers, HTTP/JSON for clients."
    )

    @Option(name: .customLong("data-dir"), help: "Where the database, artifacts and logs live.")
    var dataDirectory: String

    @Option(help: "ZeroMQ endpoint workers connect to.")
    var listen: String = "tcp://0.0.0.0:5555"

    @Option(help: "HOST:PORT of the HTTP API for clients (loopback by default; port 0 picks a free one).")
    var http: String = "127.0.0.1:8765"

    @Option(name: .customLong("worker-timeout"), help: "Seconds of silence after which a worker is considered lost.")
    var workerTimeout: Double = 10

    @OptionGroup var logging: LogOptions

    func validate() throws {
        guard parseHostPort(http) != nil else { throw ValidationError("--http must be HOST:PORT, e.g. 127.0.0.1:8765") }
        guard workerTimeout > 0 else { throw ValidationError("--worker-timeout must be positive") }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .info)
        let logger = Logger(label: "conduit.coordinator")
        let (host, port) = parseHostPort(http)!
        try await withCLIErrors {
            let loop = try ZMQLoop()
            defer { loop.shutdown() }
            let transport: ZMQCoordinatorTransport
            do {
                transport = try await ZMQCoordinatorTransport(loop: loop, endpoint: listen)
            } catch {
                throw CLIError("cannot listen for workers on \(listen): \(error)", exitCode: ExitStatus.unavailable)
            }
            let service: CoordinatorService
            do {
                service = try CoordinatorService(
                    configuration: CoordinatorConfiguration(dataDirectory: dataDirectory, workerLossTimeout: .milliseconds(Int64(workerTimeout * 1000))),
                    transport: transport, logger: logger
                )
            } catch let error as CoordinatorError {
                throw CLIError("conduit coordinator: \(error.message)", exitCode: ExitStatus.unavailable)
            }
            let endpoints = transport.endpoints.joined(separator: ", ")
            let application = CoordinatorHTTPServer.application(service: service, host: host, port: port, logger: logger) { bound in
                // One line on stdout that scripts (and the integration tests) read.
                FileHandle.standardOutput.write(Data("conduit coordinator: workers on \(endpoints), clients on http://\(host):\(bound)\n".utf8))
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: service), .init(service: application)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
                )
            )
            try await group.run()
            return ExitStatus.success
        }
    }
}

/// `conduit worker`: runs steps sent by a coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Start a worker that runs steps for a coordinator.",
        discussion: """
            SIGTERM (or SIGINT) drains the worker: it takes nothing new, hands back attempts waiting \
            for a slot, lets running attempts finish (up to --drain-timeout), then exits. A second \
            signal stops the running attempts at once and hands them back. `conduit worker drain NAME` \
            asks a running worker to do the same through the coordinator.
            """,
        subcommands: [WorkerDrainCommand.self]
    )

    @Option(help: "The coordinator's ZeroMQ endpoint, e.g. tcp://head:5555.")
    var coordinator: String

    @Option(name: .customLong("label"), help: "A label compute: names map to (repeatable). Without labels the worker takes any step.")
    var labels: [String] = []

    @Option(help: "Steps run at once.")
    var slots: Int = 1

    @Option(name: .customLong("work-dir"), help: "Attempt directories and the local content cache (default: $CONDUIT_HOME/worker-NAME or ~/.conduit/worker-NAME).")
    var workDirectory: String?

    @Option(help: "Name shown in `conduit workers` (default: the host name).")
    var name: String?

    @Option(name: .customLong("drain-timeout"), help: "Seconds a draining worker lets running steps finish before it stops them and hands them back.")
    var drainTimeout: Double = 60

    @OptionGroup var logging: LogOptions

    func validate() throws {
        guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative") }
        guard coordinator.hasPrefix("tcp://") || coordinator.hasPrefix("ipc://") || coordinator.hasPrefix("inproc://") else {
            throw ValidationError("--coordinator must be a ZeroMQ endpoint such as tcp://HOST:5555")
        }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .info)
        let logger = Logger(label: "conduit.worker")
        let workerName = name ?? ProcessInfo.processInfo.hostName
        // A worker name never picks a directory outside the data directory (`--name ../x`).
        let named = workDirectory ?? (EmbeddedSystem.defaultDataDirectory + "/worker-" + WorkerService.safeName(workerName))
        // Steps run in their own directories: a relative work directory would make the input and
        // output paths handed to them point nowhere.
        let directory = named.hasPrefix("/") ? named : FileManager.default.currentDirectoryPath + "/" + named
        try await withCLIErrors {
            let loop = try ZMQLoop()
            defer { loop.shutdown() }
            let identity = Array("\(workerName)-\(UInt64.random(in: 0...UInt64.max))".utf8)
            let transport = try await ZMQWorkerTransport(loop: loop, endpoint: coordinator, identity: identity)
            let service = try WorkerService(
                configuration: WorkerConfiguration(
                    name: workerName, labels: labels, slots: slots, workDirectory: directory, drainTimeout: .milliseconds(Int64(drainTimeout * 1000))
                ),
                transport: transport, logger: logger
            )
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
                )
            )
            do {
                try await group.run()
            } catch let error as WorkerError {
                throw CLIError("conduit worker: \(error.message)", exitCode: ExitStatus.unavailable)
            } catch let error as ServiceGroupError {
                throw CLIError("conduit worker: \(error)", exitCode: ExitStatus.unavailable)
            }
            return ExitStatus.success
        }
    }
}

/// `conduit worker drain NAME`: asks a worker, through the coordinator, to drain and leave.
struct WorkerDrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Ask a worker to finish its running steps, hand back the rest, and exit."
    )

    @Argument(help: "The worker's id or name, as `conduit workers` shows it.")
    var worker: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let workers = try await client.client().drain(worker: worker)
            let drained = workers.first { $0.id == worker || $0.name == worker }
            print("worker \(drained?.id ?? worker) is draining: it takes no new steps, finishes \(drained?.runningAttempts.count ?? 0) running, and leaves")
            return ExitStatus.success
        }
    }
}

/// `HOST:PORT` → (host, port).
func parseHostPort(_ text: String) -> (String, Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
    let host = String(text[..<colon])
    return host.isEmpty ? nil : (host, port)
}
