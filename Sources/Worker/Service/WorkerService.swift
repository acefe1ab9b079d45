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

    var workerID: String?
    var refusal: String?
    var lastHeard: ContinuousClock.Instant = .now
    /// The refusal of this worker's key in the handshake was logged (it is said once).
    var toldKeyRefused = false
    var lastHello: ContinuousClock.Instant = .now
    var running: [String: RunningAttempt] = [:]
    /// Attempts holding a slot (being prepared, running, or reporting): every dispatched attempt
    /// that is not waiting.
    var activeAttempts: Int { running.count - waitingAttempts.count }
    /// Dispatched attempts waiting for a slot, oldest first: the coordinator sends a worker a
    /// little more than its slots, so that a slot never idles for a round trip.
    var waitingAttempts: [Dispatch] = []
    /// This process's environment, read once: every attempt starts from it.
    let baseEnvironment = ProcessInfo.processInfo.environment
    var fetches: [String: FetchState] = [:]
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
    /// The leases on its attempts (see `AttemptLeases`): renewed by the coordinator's heartbeats.
    var leases: AttemptLeases
    /// Finish reports not yet acknowledged, sent again until they are (or their lease runs out).
    var pendingReports: [String: PendingReport] = [:]
    /// Set while draining (SIGTERM, or the coordinator asked).
    var draining: DrainState?
    /// The number of the last heartbeat sent, and when recent ones were sent (monotonic ms):
    /// the coordinator echoes a number back, and leases count from that send time.
    var heartbeatSequence: UInt64 = 0
    var heartbeatSentAt: [UInt64: Int64] = [:]
    /// When the last hello was sent (monotonic ms): the base of leases granted before the
    /// coordinator has seen a heartbeat of this registration.
    var helloSentAt: Int64 = 0
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
        leases = AttemptLeases(timeoutMilliseconds: max(1, configuration.leaseTimeout.milliseconds))
    }

    func monotonicNow() -> Int64 { configuration.clock.monotonicMilliseconds() }

    /// Every attempt this worker holds: running, waiting for a slot, or reported and not yet
    /// acknowledged. Named in heartbeats and in `hello`, so the coordinator can re-attach them.
    var heldAttempts: [String] { Array(Set(running.keys).union(pendingReports.keys)).sorted() }

    /// Whether the coordinator accepted the worker (false when refused); for callers that
    /// want to wait for registration.
    public nonisolated var registrations: AsyncStream<Bool> { registration }

    /// Registers and serves attempts until shutdown; throws when the coordinator refuses it.
    public func run() async throws {
        sendHello()
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
                        await self?.beginDrain(reason: reason, announce: true)
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
        if let refusal {
            throw WorkerError(.refused, "the coordinator refused this worker: \(refusal)")
        }
    }

    /// The transport closed (shutdown or refusal): take no more work, stop the steps that run,
    /// and end the transfers that can no longer be answered.
    func stopAccepting() {
        dispatchContinuation.finish()
        for attempt in running.values { attempt.process?.terminateGroup(gracePeriod: configuration.killGracePeriod) }
        failTransfers(.shutdown, reason: "the worker is shutting down")
    }

    func send(_ payload: Payload, cause: UInt64 = 0, bulk: [UInt8] = []) {
        transport.send(messages.make(payload, cause: cause, bulk: bulk))
    }

    func sendHello() {
        lastHello = .now
        helloSentAt = monotonicNow()
        send(.hello(Hello(workerName: configuration.name, capabilities: currentCapabilities(), runningAttempts: heldAttempts)))
    }

    func tick() {
        let now = monotonicNow()
        fenceExpiredLeases(now: now)
        if let draining { checkDrain(draining, now: now) }
        if ContinuousClock.now - lastHeard > configuration.coordinatorSilenceTimeout {
            logger.warning("no word from the coordinator; registering again")
            lastHeard = .now
            workerID = nil
            failTransfers(.transfer, reason: "the coordinator went silent")
            sendHello()
            return
        }
        resendReports(now: now)
        retryStalledUploads(now: now)
        sendHeartbeat(now: now)
    }

    func sendHeartbeat(now: Int64) {
        heartbeatSequence += 1
        heartbeatSentAt[heartbeatSequence] = now
        if heartbeatSentAt.count > 64 { heartbeatSentAt[heartbeatSequence - 64] = nil }
        send(.heartbeat(Heartbeat(runningAttempts: heldAttempts, sequence: heartbeatSequence)))
    }

    /// When this worker sent the heartbeat the coordinator echoes (its leases count from then).
    func leaseBase(echoing sequence: UInt64) -> Int64? {
        sequence == 0 ? nil : heartbeatSentAt[sequence]
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
            lastHeard = .now
            handle(message)
        }
    }

    func handle(_ message: Message) {
        switch message.payload {
        case .welcome(let welcome):
            workerID = welcome.workerID
            if welcome.leaseMilliseconds > 0, Int64(welcome.leaseMilliseconds) != leases.timeoutMilliseconds {
                leases.setTimeout(Int64(welcome.leaseMilliseconds))
            }
            logger.info("registered with the coordinator", metadata: ["id": "\(welcome.workerID)"])
            registrationContinuation.yield(true)
            // Results the previous coordinator connection may not have recorded, and outputs
            // it was receiving.
            resendReports(now: monotonicNow(), all: true)
            restartUploads()
            sendHeartbeat(now: monotonicNow())
            if draining != nil { send(.drain(Drain(reason: "the worker is draining"))) }
        case .refuse(let refuse) where refuse.helloRequired == true:
            // The coordinator does not know this connection (it restarted): register again,
            // at most once per heartbeat interval.
            if workerID != nil || ContinuousClock.now - lastHello > configuration.heartbeatInterval {
                logger.info("the coordinator does not know this worker; registering again")
                workerID = nil
                failTransfers(.transfer, reason: "the coordinator no longer knows this worker", keepingUploads: true)
                sendHello()
            }
        case .refuse(let refuse):
            refusal = refuse.reason
            logger.error("the coordinator refused this worker: \(refuse.reason)")
            registrationContinuation.yield(false)
            registrationContinuation.finish()
            dispatchContinuation.finish()
            transport.close()
        case .heartbeat(let heartbeat):
            if let base = leaseBase(echoing: heartbeat.sequence) {
                leases.renew(heartbeat.runningAttempts, now: base)
            }
        case .drain(let drain):
            beginDrain(reason: "the coordinator asked: \(drain.reason)", announce: false)
        case .dispatch(let dispatch):
            guard running[dispatch.attemptID] == nil, pendingReports[dispatch.attemptID] == nil else { return }
            leases.grant(dispatch.attemptID, now: leaseBase(echoing: dispatch.leaseSequence) ?? helloSentAt)
            if draining != nil {
                report(handingBack: dispatch.attemptID, reason: "the worker is draining")
                return
            }
            running[dispatch.attemptID] = RunningAttempt()
            if activeAttempts <= configuration.slots {
                dispatchContinuation.yield(dispatch)
            } else {
                waitingAttempts.append(dispatch)
            }
        case .cancel(let cancel):
            if let index = waitingAttempts.firstIndex(where: { $0.attemptID == cancel.attemptID }) {
                waitingAttempts.remove(at: index)
                running[cancel.attemptID] = nil
                let now = Self.now()
                deliver(AttemptFinished(attemptID: cancel.attemptID, outcome: .canceled, startedAt: now, endedAt: now, message: "canceled before it started"))
                return
            }
            guard var attempt = running[cancel.attemptID] else { return }
            attempt.canceled = true
            running[cancel.attemptID] = attempt
            logger.info("canceling: \(cancel.reason)", metadata: ["attempt": "\(cancel.attemptID)"])
            attempt.process?.terminateGroup(gracePeriod: configuration.killGracePeriod)
        case .attemptAcknowledged(let ack):
            let reported = pendingReports.removeValue(forKey: ack.attemptID)?.report.outcome
            leases.release(ack.attemptID)
            if let draining { checkDrain(draining, now: monotonicNow()) }
            if !ack.accepted && reported == .succeeded {
                logger.warning("the coordinator rejected the result: \(ack.reason ?? "")", metadata: ["attempt": "\(ack.attemptID)"])
                // It may have lost blobs this worker thought it held: upload everything again.
                coordinatorHas.removeAll()
            }
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

/// A dispatched attempt on this worker.
struct RunningAttempt {
    var process: ChildProcess?
    var canceled = false
    /// Its lease ran out: killed, outputs discarded.
    var fenced = false
    /// Stopped because the worker drains: handed back to the coordinator.
    var handedBack = false
}

/// A finish report waiting for its acknowledgement.
struct PendingReport {
    var report: AttemptFinished
    /// When it was last sent (monotonic milliseconds).
    var sentAt: Int64
}

/// A worker that drains.
struct DrainState {
    var reason: String
    /// When running attempts are stopped and handed back (monotonic milliseconds).
    var deadline: Int64
    /// When the worker first had nothing running (monotonic milliseconds).
    var idleSince: Int64?
    /// Set once it has closed its connection to leave.
    var leaving = false
}
