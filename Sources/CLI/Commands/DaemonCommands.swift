import ArgumentParser
import Coordinator
import Foundation
import HTTPAPI
import Logging
import Prometheus
import Protocol
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

    @Option(help: "HOST:PORT of the HTTP API for clients (loopback by default; port 0 picks a free one). Any other host needs --http-token-file.")
    var http: String = "127.0.0.1:8765"

    @Option(name: .customLong("metrics-listen"), help: ArgumentHelp(
        "HOST:PORT of a second HTTP listener that serves only GET /metrics, without the token (the API serves /metrics too, behind it). It shows counts, worker names and labels: listen where only Prometheus reaches it.",
        valueName: "HOST:PORT"))
    var metricsListen: String?

    @Option(name: .customLong("http-token-file"), help: ArgumentHelp("A file (mode 0600) holding the bearer token every HTTP request must carry.", valueName: "FILE"))
    var httpTokenFile: String?

    @Option(name: .customLong("http-header-timeout"), help: ArgumentHelp(
        "Seconds a new HTTP connection may take to send a complete request head; then it is closed.", valueName: "SECONDS"))
    var httpHeaderTimeout: Double = Double(HTTPServerSettings.defaultRequestHeadTimeout.components.seconds)

    @Option(name: .customLong("http-idle-timeout"), help: ArgumentHelp(
        "Seconds an HTTP connection with no request in progress stays open.", valueName: "SECONDS"))
    var httpIdleTimeout: Double = Double(HTTPServerSettings.defaultIdleTimeout.components.seconds)

    @Option(name: .customLong("http-max-connections"), help: ArgumentHelp(
        "HTTP connections open at once, all clients together; more are closed at once (lowered to fit the descriptor limit).",
        valueName: "N"))
    var httpMaximumConnections: Int = HTTPServerSettings.defaultMaximumConnections

    @Option(name: .customLong("http-max-connections-per-address"), help: ArgumentHelp(
        "HTTP connections open at once from one client address; more are closed at once.", valueName: "N"))
    var httpMaximumConnectionsPerAddress: Int = HTTPServerSettings.defaultMaximumConnectionsPerAddress

    @Option(name: .customLong("worker-timeout"), help: "Seconds of silence after which a worker is considered lost.")
    var workerTimeout: Double = 10

    @Option(name: .customLong("min-free-space"), help: "MiB that must stay free under --data-dir; below it dispatching pauses until space is freed.")
    var minimumFreeMiB: Int64 = 256

    @Option(name: .customLong("secret-key"), help: ArgumentHelp(
        "The coordinator's CURVE key pair (a NAME.secret file from `conduit keys generate`, mode 0600): workers authenticate and traffic is encrypted.",
        valueName: "FILE"))
    var secretKey: String?

    @Flag(help: "No authentication and no encryption: anyone who reaches --listen can run steps. Only for a single trusted machine; --listen must then be loopback (or ipc://) unless --insecure-listen.")
    var plaintext = false

    @Flag(name: .customLong("insecure-listen"), help: "With --plaintext, listen for workers on an address other machines can reach: anyone who reaches it can run steps.")
    var insecureListen = false

    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A YAML file mapping compute: names to worker labels and requirements (compute:) and resources.instance_type names to requirements (instance_types:); see the README.",
        valueName: "FILE"))
    var configFile: String?

    @Flag(help: "Before starting, replace a damaged database with the newest backup under DATA_DIR/backups that passes quick_check, or with a fresh database beside the blobs and logs when none does (the damaged file is moved aside, never deleted).")
    var recover = false

    @OptionGroup var datastores: DatastoreOptions

    @OptionGroup var logging: LogOptions

    func validate() throws {
        guard parseHostPort(http) != nil else { throw ValidationError("--http must be HOST:PORT, e.g. 127.0.0.1:8765") }
        if let metricsListen, parseHostPort(metricsListen) == nil {
            throw ValidationError("--metrics-listen must be HOST:PORT, e.g. 127.0.0.1:9464, got '\(metricsListen)'")
        }
        guard workerTimeout > 0 else { throw ValidationError("--worker-timeout must be positive") }
        guard minimumFreeMiB >= 0 else { throw ValidationError("--min-free-space must not be negative") }
        if plaintext && secretKey != nil {
            throw ValidationError("--plaintext and --secret-key contradict each other: choose one")
        }
        if !plaintext && secretKey == nil {
            throw ValidationError("""
                workers must authenticate: pass --secret-key FILE (create it with `conduit keys generate --name coordinator`, \
                then allow each worker with `conduit workers allow NAME.public --name NAME`), or --plaintext to run without \
                authentication on a single trusted machine
                """)
        }
        if plaintext && !insecureListen && !isLocalEndpoint(listen) {
            throw ValidationError("""
                --plaintext with --listen \(listen): other machines could reach it and run steps without authenticating; \
                listen on loopback (--listen tcp://127.0.0.1:5555) or ipc://, use --secret-key FILE, or pass \
                --insecure-listen to accept the risk
                """)
        }
        if insecureListen && !plaintext {
            throw ValidationError("--insecure-listen only applies to --plaintext; with --secret-key workers authenticate on any address")
        }
        do throws(HTTPAccessError) {
            _ = try httpSettings()
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The HTTP server's limits from the flags.
    func httpSettings() throws(HTTPAccessError) -> HTTPServerSettings {
        func duration(_ seconds: Double, _ flag: String) throws(HTTPAccessError) -> Duration {
            guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
                throw HTTPAccessError(code: .invalidSettings, message: "\(flag) must be a number of seconds above 0 and at most 86400, got \(seconds)")
            }
            return .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }
        return try HTTPServerSettings(
            requestHeadTimeout: duration(httpHeaderTimeout, "--http-header-timeout"),
            idleTimeout: duration(httpIdleTimeout, "--http-idle-timeout"),
            maximumConnections: httpMaximumConnections,
            maximumConnectionsPerAddress: httpMaximumConnectionsPerAddress)
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .info, format: logging.logFormat)
        MemoryTuning.keepLargeBuffers()
        let logger = Logger(label: "conduit.coordinator")
        let (host, port) = parseHostPort(http)!
        // HTTP connections may use only part of the descriptors, so that a flood of them never starves ZeroMQ,
        // the blob store or the database of the descriptors a running step needs.
        let descriptorLimit = DescriptorLimit.raiseSoftLimitToHard()
        let (serverSettings, lowered) = try httpSettings().fitted(toDescriptorLimit: descriptorLimit)
        if lowered {
            logger.warning("""
                HTTP: at most \(serverSettings.maximumConnections) connections (not \(httpMaximumConnections)): the process may \
                open only \(descriptorLimit) files (ulimit -n), and half of them stay reserved for workers and storage
                """)
        }
        try await withCLIErrors {
            let placement = try PlacementSettings.load(configFile)
            let datastores = try PlacementSettings.datastores(configFile, extra: try datastores.directories(), dataDirectory: dataDirectory)
            let mlflowTrackingURI = try PlacementSettings.mlflowTrackingURI(configFile)
            // Checked before anything listens: a non-loopback API without a token is never started.
            let token: BearerToken?
            do throws(HTTPAccessError) {
                token = if let httpTokenFile { try BearerToken(readingFile: httpTokenFile) } else { nil }
                try CoordinatorHTTPServer.checkExposure(host: host, token: token)
            } catch {
                throw CLIError("conduit coordinator: \(error.message)", exitCode: ExitStatus.usage)
            }
            let security: TransportSecurity
            let allowList = WorkerAllowList()
            if let secretKey {
                let keys = try KeyFiles.readSecret(secretKey)
                security = .curveServer(keys: keys, allowList: allowList)
                logger.info("CURVE on: workers pin this coordinator's public key \(keys.publicKey.z85)")
            } else {
                security = .plaintext
                let warning = "WARNING: --plaintext: workers are NOT authenticated and traffic is NOT encrypted; anyone who can reach \(listen) can run steps and read artifacts. Use it only on a single trusted machine."
                FileHandle.standardError.write(Data("\(warning)\n".utf8))
                logger.warning("\(warning)")
            }
            let loop = try ZMQLoop()
            defer { loop.shutdown() }
            let transport: ZMQCoordinatorTransport
            do {
                transport = try await ZMQCoordinatorTransport(loop: loop, endpoint: listen, security: security)
            } catch {
                throw CLIError("cannot listen for workers on \(listen): \(error)", exitCode: ExitStatus.unavailable)
            }
            if recover {
                do {
                    let outcome = try DatabaseRecovery.recover(dataDirectory: dataDirectory, now: Int64(Date().timeIntervalSince1970 * 1000))
                    let lines = outcome.summary.split(separator: "\n").map { "conduit coordinator: \($0)\n" }
                    FileHandle.standardError.write(Data(lines.joined().utf8))
                    logger.notice("\(outcome.summary.replacingOccurrences(of: "\n", with: "; "))")
                } catch let error as CoordinatorError {
                    throw CLIError("conduit coordinator --recover: \(error.message)", exitCode: ExitStatus.unavailable)
                }
            }
            // The coordinator's counters and histograms, in a registry of this daemon's own.
            let metricsRegistry = PrometheusCollectorRegistry()
            var metricsFactory = PrometheusMetricsFactory(registry: metricsRegistry)
            metricsFactory.durationHistogramBuckets = CoordinatorMetrics.durationBuckets
            let service: CoordinatorService
            do {
                service = try CoordinatorService(
                    configuration: CoordinatorConfiguration(
                        dataDirectory: dataDirectory, workerLossTimeout: .milliseconds(Int64(workerTimeout * 1000)), minimumFreeBytes: minimumFreeMiB << 20,
                        placement: placement, datastores: datastores, metricsFactory: metricsFactory
                    ),
                    transport: transport, logger: logger
                )
                if case .curveServer = security { try await service.enableWorkerAuthentication(allowList) }
            } catch let error as CoordinatorError {
                throw CLIError("conduit coordinator: \(error.message)", exitCode: ExitStatus.unavailable)
            }
            let endpoints = transport.endpoints.joined(separator: ", ")
            // The mirror to the user's MLflow server: its own service, fed from the store.
            let mirrorMonitor = mlflowTrackingURI.map { MLflowMirrorMonitor(trackingURI: $0) }
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
            if let mlflowTrackingURI, let mirrorMonitor {
                let api = HTTPMLflowClient(trackingURI: mlflowTrackingURI)
                services.append(.init(service: MLflowMirror(service: service, api: api, monitor: mirrorMonitor, logger: logger)))
                logger.info("MLflow mirror: each attempt's tracking is mirrored to \(mlflowTrackingURI)")
            }
            let application = try CoordinatorHTTPServer.application(
                service: service, host: host, port: port, token: token, settings: serverSettings, logger: logger, mlflowMirror: mirrorMonitor,
                metrics: metricsRegistry
            ) { bound in
                // One line on stdout that scripts (and the integration tests) read.
                FileHandle.standardOutput.write(Data("conduit coordinator: workers on \(endpoints), clients on http://\(host):\(bound)\n".utf8))
            }
            services.append(.init(service: application))
            if let metricsListen, case let (metricsHost, metricsPort)? = parseHostPort(metricsListen) {
                let metricsApplication = CoordinatorHTTPServer.metricsApplication(
                    service: service, host: metricsHost, port: metricsPort, registry: metricsRegistry, settings: serverSettings, logger: logger
                ) { bound in
                    FileHandle.standardOutput.write(Data("conduit coordinator: metrics on http://\(metricsHost):\(bound)/metrics\n".utf8))
                }
                services.append(.init(service: metricsApplication))
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: services,
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
                )
            )
            try await group.run()
            return ExitStatus.success
        }
    }
}

/// `conduit worker`: starts a worker (`conduit worker start`, the default), or drains one.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Start a worker that runs steps for a coordinator (`conduit worker --coordinator ...`), or drain one.",
        subcommands: [WorkerStartCommand.self, WorkerDrainCommand.self],
        defaultSubcommand: WorkerStartCommand.self
    )
}

/// `conduit worker [start]`: runs steps sent by a coordinator.
struct WorkerStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a worker that runs steps for a coordinator (the default of `conduit worker`).",
        discussion: """
            SIGTERM (or SIGINT) drains the worker: it takes nothing new, hands back attempts waiting \
            for a slot, lets running attempts finish (up to --drain-timeout), then exits. A second \
            signal stops the running attempts at once and hands them back. `conduit worker drain NAME` \
            asks a running worker to do the same through the coordinator.
            """
    )

    @Option(help: "The coordinator's ZeroMQ endpoint, e.g. tcp://head:5555.")
    var coordinator: String

    @Option(name: .customLong("label"), help: ArgumentHelp(
        "A label compute: names map to (repeatable; no spaces or commas). Without labels the worker takes any step.",
        valueName: "NAME"))
    var labels: [String] = []

    @Option(name: .customLong("gpus"), help: ArgumentHelp(
        "Offer only these GPUs, by index as nvidia-smi numbers them, e.g. 0,2 (default: every GPU detected).",
        valueName: "INDICES"))
    var gpus: String?

    @Option(name: .customLong("simulate-gpus"), help: ArgumentHelp(
        """
        Declare simulated GPUs instead of detecting real ones (for testing): a count (2), \
        [COUNTx]MODEL[:MEMORY] (2xA100:80GiB), or a comma-separated list (A100:80GiB,T4:16GiB); 0 declares none. \
        Default: $\(SimulatedGPUs.environmentVariable) when set.
        """,
        valueName: "SPEC"))
    var simulateGPUs: String?

    @Option(help: "Steps run at once (default: the cores it may use). The coordinator also packs steps by the cores, memory and GPUs they ask for; more slots than cores counts each slot as a core.")
    var slots: Int?

    @Option(name: .customLong("work-dir"), help: "Attempt directories and the local content cache (default: $CONDUIT_HOME/worker-NAME or ~/.conduit/worker-NAME).")
    var workDirectory: String?

    @Option(help: "Name shown in `conduit workers` (default: the host name).")
    var name: String?

    @Option(name: .customLong("drain-timeout"), help: "Seconds a draining worker lets running steps finish before it stops them and hands them back.")
    var drainTimeout: Double = 60

    @Option(name: .customLong("cache-size"), help: ArgumentHelp(
        "The most the local content cache may hold, e.g. 500MiB or 50GiB; least recently used entries not in use are evicted (default: 25% of the work directory's file system, at most 20GiB).",
        valueName: "SIZE"))
    var cacheSize: String?

    @Option(name: .customLong("secret-key"), help: ArgumentHelp(
        "This worker's CURVE key pair (a NAME.secret file from `conduit keys generate`, mode 0600); its public key must be allowed on the coordinator.",
        valueName: "FILE"))
    var secretKey: String?

    @Option(name: .customLong("coordinator-key"), help: ArgumentHelp(
        "The coordinator's public key, or its .public file: the worker talks to no other.", valueName: "KEY_OR_FILE"))
    var coordinatorKey: String?

    @Flag(help: "No authentication and no encryption (the coordinator must run with --plaintext too). Only for a single trusted machine.")
    var plaintext = false

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1") }
        do {
            try WorkerLabels.validate(labels)
            if let gpus { _ = try GPUSelection.parse(gpus) }
            if let simulateGPUs { _ = try SimulatedGPUs.parse(simulateGPUs) }
        } catch {
            throw ValidationError(error.message)
        }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative") }
        if let cacheSize, ByteCount.parse(cacheSize) == nil {
            throw ValidationError("--cache-size '\(cacheSize)' is not a size; write e.g. 500MiB, 50GiB or 2TB")
        }
        if plaintext && (secretKey != nil || coordinatorKey != nil) {
            throw ValidationError("--plaintext cannot be combined with --secret-key or --coordinator-key")
        }
        if !plaintext && (secretKey == nil || coordinatorKey == nil) {
            throw ValidationError("""
                a worker authenticates with --secret-key FILE (its own key pair from `conduit keys generate`) and \
                --coordinator-key KEY_OR_FILE (the coordinator's public key); or pass --plaintext for a coordinator \
                that runs without authentication on a single trusted machine
                """)
        }
        guard coordinator.hasPrefix("tcp://") || coordinator.hasPrefix("ipc://") || coordinator.hasPrefix("inproc://") else {
            throw ValidationError("--coordinator must be a ZeroMQ endpoint such as tcp://HOST:5555")
        }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .info, format: logging.logFormat)
        MemoryTuning.keepLargeBuffers()
        let logger = Logger(label: "conduit.worker")
        let workerName = name ?? ProcessInfo.processInfo.hostName
        // A worker name never picks a directory outside the data directory (`--name ../x`).
        let named = workDirectory ?? (EmbeddedSystem.defaultDataDirectory + "/worker-" + WorkerService.safeName(workerName))
        // Steps run in their own directories: a relative work directory would make the input and
        // output paths handed to them point nowhere.
        let directory = named.hasPrefix("/") ? named : FileManager.default.currentDirectoryPath + "/" + named
        try await withCLIErrors {
            let security: TransportSecurity
            if let secretKey, let coordinatorKey {
                let keys = try KeyFiles.readSecret(secretKey)
                security = .curveClient(keys: keys, coordinatorKey: try KeyFiles.readPublicKey(coordinatorKey))
                logger.info("CURVE on: this worker's public key is \(keys.publicKey.z85)")
            } else {
                security = .plaintext
                let warning = "WARNING: --plaintext: this worker does NOT authenticate the coordinator and its traffic is NOT encrypted. Use it only on a single trusted machine."
                FileHandle.standardError.write(Data("\(warning)\n".utf8))
                logger.warning("\(warning)")
            }
            let resources: MachineResources
            do {
                resources = try await CapabilityDetector.detect(CapabilityDetector.Options(
                    gpuSelection: try gpus.map(GPUSelection.parse), simulatedGPUs: simulateGPUs
                ))
            } catch let error as WorkerError {
                throw CLIError("conduit worker: \(error.message)", exitCode: ExitStatus.usage)
            }
            logger.info("\(resources.summary(workerName: workerName, diskFreeBytes: DiskSpace.freeBytes(at: directory)))")
            let loop = try ZMQLoop()
            defer { loop.shutdown() }
            let identity = Array("\(workerName)-\(UInt64.random(in: 0...UInt64.max))".utf8)
            let transport = try await ZMQWorkerTransport(loop: loop, endpoint: coordinator, identity: identity, security: security)
            let service = try WorkerService(
                configuration: WorkerConfiguration(
                    name: workerName, labels: labels, slots: slots ?? resources.cores, workDirectory: directory,
                    drainTimeout: .milliseconds(Int64(drainTimeout * 1000)), resources: resources,
                    cacheLimitBytes: cacheSize.flatMap(ByteCount.parse)
                ),
                transport: transport, logger: logger
            )
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    // A drained worker ends its service by itself: the process then exits cleanly.
                    services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
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

/// Whether only this machine can reach the ZeroMQ endpoint `endpoint`: `ipc://` and `inproc://`, or
/// `tcp://HOST:PORT` with a loopback HOST (`127.0.0.0/8`, `::1`, `localhost`). A wildcard (`*`), an interface
/// name or any other transport is not.
func isLocalEndpoint(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return false }
    let host = endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]
    return !host.isEmpty && CoordinatorHTTPServer.isLoopback(String(host))
}

/// `HOST:PORT` → (host, port).
func parseHostPort(_ text: String) -> (String, Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
    let host = String(text[..<colon])
    return host.isEmpty ? nil : (host, port)
}
