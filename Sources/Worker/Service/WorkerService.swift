import Artifacts
import Foundation
import Logging
import Protocol
import ServiceLifecycle
import Transport

/// A worker: registers with the coordinator, runs the attempts it is sent (up to `slots` at
/// once), streams their logs, and uploads their outputs.
///
/// An actor: transport events, heartbeats and attempt progress are handled one at a time;
/// processes run outside it and only report in.
public actor WorkerService: Service {
    let configuration: WorkerConfiguration
    let transport: any WorkerTransport
    let messages: MessageFactory
    let cache: BlobStore
    var logger: Logger

    /// Registration, leases, reports, the slot queue and draining: the pure core this actor
    /// carries out (see `WorkerCore`).
    var core: WorkerCore
    /// The processes of started attempts, by attempt id.
    var processes: [String: ChildProcess] = [:]
    /// The refusal of this worker's key in the handshake was logged (it is said once).
    var toldKeyRefused = false
    /// This process's environment, read once: every attempt starts from it.
    let baseEnvironment = ProcessInfo.processInfo.environment
    var fetches: [String: FetchState] = [:]
    /// What running attempts track (metrics files, MLflow's file store), read about once a second.
    var trackers: [String: TrackingReader] = [:]
    var uploads: [String: UploadState] = [:]
    /// Blobs the coordinator is known to hold (uploaded or fetched from it): not uploaded again.
    var coordinatorHas: Set<String> = []
    /// Read-only checkouts of input artifacts: artifact → the path a step reads.
    var checkouts: [Digest: String] = [:]
    var checkoutCounter = 0
    /// The content cache's index, limit and pins (see WorkerService+Cache).
    var cacheState: CacheState
    /// Spare empty directories, reused for attempt directories.
    var directories: DirectoryPool
    let dispatches: AsyncStream<Dispatch>
    let dispatchContinuation: AsyncStream<Dispatch>.Continuation
    let registration: AsyncStream<Bool>
    let registrationContinuation: AsyncStream<Bool>.Continuation
    let drainRequests: AsyncStream<String>
    /// Python environments of steps, built once per digest under `WORK_DIR/envs` (see EnvironmentBuilds).
    let environmentBuilds: EnvironmentBuilds
    /// Log chunks already sent for an attempt while its environment was prepared: its process's
    /// output continues the numbering.
    var environmentLogSequence: [String: Int] = [:]
    let drainContinuation: AsyncStream<String>.Continuation

    /// Prepares the work directory and the local content cache.
    public init(configuration: WorkerConfiguration, transport: any WorkerTransport, logger: Logger = Logger(label: "conduit.worker")) throws {
        do {
            // Owner only (0700): steps' inputs, outputs and logs can hold secrets. A work directory
            // that already exists keeps its mode (the operator chose it).
            let fileManager = FileManager.default
            let ownerOnly: [FileAttributeKey: Any] = [.posixPermissions: 0o700]
            if !fileManager.fileExists(atPath: configuration.workDirectory) {
                try fileManager.createDirectory(atPath: configuration.workDirectory, withIntermediateDirectories: true, attributes: ownerOnly)
            }
            for sub in ["/attempts", "/cache", "/cache/checkouts"] where !fileManager.fileExists(atPath: configuration.workDirectory + sub) {
                try fileManager.createDirectory(atPath: configuration.workDirectory + sub, withIntermediateDirectories: true, attributes: ownerOnly)
            }
        } catch {
            throw WorkerError(.workspace, "cannot create the work directory \(configuration.workDirectory): \(error.localizedDescription)")
        }
        self.configuration = configuration
        self.transport = transport
        self.messages = MessageFactory(senderID: configuration.name)
        let cache = try BlobStore(root: configuration.workDirectory + "/cache")
        self.cache = cache
        self.directories = DirectoryPool(spareRoot: configuration.workDirectory + "/spare")
        self.environmentBuilds = EnvironmentBuilds(root: configuration.workDirectory + "/envs", baseEnvironment: ProcessInfo.processInfo.environment)
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.name)"
        self.logger = logger
        cacheState = Self.loadCache(
            store: cache, workDirectory: configuration.workDirectory, configuredLimit: configuration.cacheLimitBytes, logger: logger)
        (dispatches, dispatchContinuation) = AsyncStream.makeStream()
        (registration, registrationContinuation) = AsyncStream.makeStream()
        (drainRequests, drainContinuation) = AsyncStream.makeStream()
        core = WorkerCore(settings: WorkerCore.Settings(
            slots: configuration.slots, heartbeatMilliseconds: configuration.heartbeatInterval.milliseconds,
            silenceMilliseconds: configuration.coordinatorSilenceTimeout.milliseconds, leaseMilliseconds: configuration.leaseTimeout.milliseconds,
            drainMilliseconds: configuration.drainTimeout.milliseconds
        ))
    }

    func monotonicNow() -> Int64 { configuration.clock.monotonicMilliseconds() }

    /// Now, on both clocks, for the core.
    func coreNow() -> WorkerCore.Now { WorkerCore.Now(monotonic: monotonicNow(), wall: Self.now()) }

    /// Whether the coordinator accepted the worker (false when refused); for callers that
    /// want to wait for registration.
    public nonisolated var registrations: AsyncStream<Bool> { registration }

    /// Registers and serves attempts until shutdown; throws when the coordinator refuses it.
    public func run() async throws {
        apply(core.on(.started(coreNow())))
        let events = transport.events
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [weak self] in
                    for await event in events {
                        guard let self else { return }
                        await self.handle(event)
                    }
                    await self?.stopAccepting()
                }
                group.addTask { [weak self] in
                    while !Task.isCancelled {
                        guard let interval = self?.configuration.heartbeatInterval else { return }
                        try? await Task.sleep(for: interval)
                        await self?.tick()
                    }
                }
                group.addTask { [weak self, drainRequests] in
                    for await reason in drainRequests {
                        await self?.drain(reason: reason)
                    }
                }
                for await dispatch in dispatches {
                    group.addTask { [weak self] in
                        await self?.execute(dispatch)
                    }
                }
                drainContinuation.finish()
                group.cancelAll()
            }
        } onGracefulShutdown: { [drainContinuation] in
            // SIGTERM: finish or hand back what this worker holds, then leave (see beginDrain).
            drainContinuation.yield("the worker got SIGTERM")
        }
        if let refusal = core.refusal {
            throw WorkerError(.refused, "the coordinator refused this worker: \(refusal)")
        }
    }

    /// The transport closed (shutdown or refusal): take no more work, stop the steps that run,
    /// and end the transfers that can no longer be answered.
    func stopAccepting() {
        dispatchContinuation.finish()
        apply(core.on(.transportClosed))
        failTransfers(.shutdown, reason: "the worker is shutting down")
    }

    func send(_ payload: Payload, cause: UInt64 = 0, bulk: [UInt8] = []) {
        transport.send(messages.make(payload, cause: cause, bulk: bulk))
    }

    func tick() {
        apply(core.on(.tick(coreNow())))
    }

    /// SIGTERM or `conduit worker drain`: see `WorkerCore`.
    func drain(reason: String) {
        apply(core.on(.drainRequested(reason: reason, announce: true, coreNow())))
    }

    /// Carries out what the core decided.
    func apply(_ actions: [WorkerCore.Action]) {
        for action in actions {
            switch action {
            case .sendHello(let held):
                send(.hello(Hello(workerName: configuration.name, capabilities: currentCapabilities(), runningAttempts: held)))
            case .send(let payload):
                send(payload)
            case .start(let dispatch):
                dispatchContinuation.yield(dispatch)
            case .stop(let attemptID, let immediately):
                processes[attemptID]?.terminateGroup(gracePeriod: immediately ? .zero : configuration.killGracePeriod)
            case .registered:
                registrationContinuation.yield(true)
            case .refused:
                registrationContinuation.yield(false)
                registrationContinuation.finish()
                dispatchContinuation.finish()
                transport.close()
            case .abandonTransfers(let reason, let keepingUploads):
                failTransfers(.transfer, reason: reason, keepingUploads: keepingUploads)
            case .resumeUploads:
                restartUploads()
            case .retryStalledUploads:
                retryStalledUploads(now: monotonicNow())
            case .forgetCoordinatorBlobs:
                coordinatorHas.removeAll()
            case .leave:
                dispatchContinuation.finish()
                transport.close()
            case .log(let line):
                var metadata: Logger.Metadata = [:]
                if let attempt = line.attemptID { metadata["attempt"] = "\(attempt)" }
                let level: Logger.Level = switch line.level {
                case .info: .info
                case .notice: .notice
                case .warning: .warning
                case .error: .error
                }
                logger.log(level: level, "\(line.message)", metadata: metadata)
            }
        }
    }

    func handle(_ event: WorkerTransportEvent) {
        switch event {
        case .malformed(let error):
            logger.warning("dropped a malformed message from the coordinator: \(error)")
        case .handshakeRefused(let endpoint):
            // Said once: the transport retries every second, and the key may be allowed later.
            guard !toldKeyRefused else { return }
            toldKeyRefused = true
            logger.error(
                "the coordinator at \(endpoint) refused this worker's key: it is not on the coordinator's allow-list (or was revoked); allow it on the coordinator's machine with `conduit workers allow NAME.public --name NAME`. Trying again every second.")
        case .message(let message):
            handle(message)
        }
    }

    func handle(_ message: Message) {
        apply(core.on(.received(message.payload, coreNow())))
        switch message.payload {
        case .welcome, .refuse, .heartbeat, .drain, .dispatch, .cancel, .attemptAcknowledged:
            break  // the core's
        case .fetchChunk(let chunk):
            receiveFetchChunk(chunk, bytes: message.bulk)
        case .fetchFailed(let failed):
            failFetch(failed.blob, reason: failed.reason)
        case .uploadCredit(let credit):
            receiveCredit(credit)
        case .uploadStored(let stored):
            finishUpload(stored)
        default:
            logger.warning("ignored \(message.envelope.code) from the coordinator")
        }
    }
}
