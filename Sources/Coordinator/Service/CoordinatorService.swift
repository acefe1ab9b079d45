import Artifacts
import Foundation
import Logging
import Protocol
import ServiceLifecycle
import Spec
import Store
import Transport

/// The coordinator daemon's core: holds every active run, places attempts on workers, serves
/// artifacts and records everything in the store.
///
/// An actor: transport events, timer ticks and client calls are handled one at a time. Decisions
/// come from the pure `RunMachine` and `Scheduler`; this type carries out their actions. Every
/// transition is written to the store before any message that depends on it is sent.
public actor CoordinatorService: Service {
    let configuration: CoordinatorConfiguration
    let store: ConduitStore
    let blobs: BlobStore
    let transport: any CoordinatorTransport
    let messages = MessageFactory(senderID: "coordinator")
    /// Counters and histograms for `/metrics` (see ``CoordinatorMetrics``).
    let telemetry: CoordinatorMetrics
    /// Attempt → when it was queued (monotonic milliseconds), until it is dispatched: the dispatch
    /// latency, and the oldest waiting step of each label when scraped.
    var queuedAt: [String: Int64] = [:]
    var logger: Logger
    let logDirectory: String
    let lock: DataDirectoryLock
    /// The database's backups (daily and on a clean shutdown; see `backUp(why:)`).
    let backups: DatabaseBackups
    /// When the newest backup was taken (wall-clock milliseconds), nil before the first.
    var lastBackupAt: Int64?
    /// Set while a backup is being written off the actor (see `backUpConcurrently(why:beforeCopy:)`).
    var backingUp = false
    /// Set while the pending batch could not be written (the disk is full or failing): it is kept
    /// and written again with the next flush; see `flushOutbox()`.
    var unwrittenSince: Int64?
    /// When a write last failed for lack of disk (monotonic milliseconds).
    var lastFailedWrite: Int64 = 0

    var runs: [String: ActiveRun] = [:]
    /// Recently finished runs as they ended (a finished run never changes), so that reports right
    /// after the end need not read and decode them from the store (bounded; older runs are read).
    var recentRuns: [String: FinishedRun] = [:]
    var recentRunOrder: [String] = []
    /// Recently submitted plans by the digest of their JSON (bounded).
    var decodedPlans: [Digest: PipelinePlan] = [:]
    /// Parsed artifact manifests by digest (content-addressed, so never stale); bounded.
    var manifestCache: [Digest: TreeManifest] = [:]
    /// Cache entries recently written or read, with their outputs decoded: a re-submission
    /// finds them without a query per step. Bounded; every hit is still verified against the
    /// artifact store.
    var recentCacheEntries: [String: (entry: CacheEntryRecord, outputs: [String: String])] = [:]
    var scheduler = Scheduler()
    var workers: [String: ConnectedWorker] = [:]
    var workerIDsByPeer: [PeerID: String] = [:]
    /// Worker authentication: the allow-list and the key each worker registered with.
    var security = WorkerSecurity()
    var attempts: [String: ActiveAttempt] = [:]
    /// Registration ids for a second live connection of one worker (`NAME#N`).
    var workerCounter = 0
    /// Worker name → the identity that last held it and when it left (monotonic ms): another key
    /// may not take a name for the loss timeout after its worker left (bounded).
    var recentNames: [String: (identity: WorkerIdentity, leftAt: Int64)] = [:]
    /// Every dispatched attempt's lease: whose it is, who holds it, when it was last confirmed.
    var lifecycle: AttemptLifecycle
    /// artifact digest → the bytes its files hold (for placing steps near their inputs).
    var artifactSizes: [String: Int64] = [:]
    var uploads: [String: UploadState] = [:]
    /// blob@peer → the checksummer of a fetch being served (see `serveFetch`).
    var fetchSenders: [String: ChunkChecksummer] = [:]
    /// Blob → peers whose upload of the same bytes waits for the one in progress.
    var uploadWaiters: [String: [PeerID]] = [:]
    var outbox: [(Message, PeerID)] = []
    /// Writes collected while handling the current event; see `flushOutbox()`.
    var batch = StoreBatch()
    /// Transport events handled since the last flush (see `handle(_:)`).
    var eventsSinceFlush = 0
    /// Steps waiting out a retry backoff: (when, run, step, worker to avoid), in no order.
    var pendingRetries: [(due: Int64, runID: String, step: String, avoiding: String?)] = []
    /// Why dispatching is paused (the data directory's disk is full), or nil.
    var dispatchPause: String?
    /// Uploads that arrived while dispatching was paused for disk space: answered on resume.
    var deferredUploads: [(UploadBegin, workerID: String, peer: PeerID)] = []
    /// Attempt → why its upload waits (`coordinator disk full (N MiB free, M needed)`), shown as its
    /// step's reason while it does.
    var uploadWaits: [String: String] = [:]
    /// Set while deferred uploads are begun again (so that one deferred again does not recurse).
    var retryingUploads = false
    /// Attempts whose success was recorded (recent ones; older ones are looked up in the store),
    /// with the identity they were dispatched to, so that a repeated report from that identity is
    /// acknowledged again instead of rejected.
    var committedAttempts: [String: WorkerIdentity] = [:]
    var restored = false
    /// Run → outputs being copied to datastores off the actor (see `exportToDatastores`).
    var pendingExports: [String: Int] = [:]
    /// Run → ready steps whose datastore inputs are read once those copies are done (an upstream
    /// step may be writing the path they read; see `readDatastoreInputs`).
    var readsAwaitingExports: [String: [String]] = [:]
    /// Runs whose end waits for those copies, with how they ended.
    var deferredFinishes: [String: (status: RunStatus, reason: String?)] = [:]
    /// The data assets runs registered (read from the store on first use; see `registerOutputs`).
    var registeredOutputs: RegisteredOutputs?
    /// Increases with every change to any run; run reports carry it so clients can wait.
    var version: Int64 = 0
    /// Whether the bayesian optimiser can run: nil before the first bayesian sweep is submitted,
    /// then `.some(nil)` when it can, or why not.
    var optimizerProblem: String??
    /// Whether a check of the optimiser is under way (after one that found it missing).
    var optimizerRecheck = false
    /// Work done off the actor whose answer comes back to it (the bayesian optimiser's proposals
    /// and checks), run by `run()`'s task group.
    let background = AsyncStream<@Sendable () async -> Void>.makeStream()
    let startedAt = ContinuousClock.now

    /// Opens the store under `configuration.dataDirectory` and takes over `transport`.
    ///
    /// Directories it creates are mode 0700 and files 0600 (logs and outputs can hold secrets). The
    /// database must pass `PRAGMA quick_check`, and an empty or missing database is refused in a data
    /// directory that holds blobs (its history would silently be gone); both errors say how to
    /// recover. Partial uploads a previous process left under `blobs/tmp/` are removed.
    public init(configuration: CoordinatorConfiguration, transport: any CoordinatorTransport, logger: Logger = Logger(label: "conduit.coordinator")) throws {
        let fileManager = FileManager.default
        let root = configuration.dataDirectory
        let ownerOnly: [FileAttributeKey: Any] = [.posixPermissions: 0o700]
        do {
            for directory in [root, root + "/logs"] where !fileManager.fileExists(atPath: directory) {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: ownerOnly)
            }
        } catch {
            throw CoordinatorError(.storage, "cannot create the data directory \(root): \(error.localizedDescription)")
        }
        self.lock = try DataDirectoryLock(directory: root)
        self.configuration = configuration
        self.telemetry = CoordinatorMetrics(factory: configuration.metricsFactory)
        lifecycle = AttemptLifecycle(timeoutMilliseconds: configuration.lossTimeoutMilliseconds)
        let databasePath = root + "/conduit.sqlite"
        let databaseSize = DatabaseBackups.fileSize(databasePath)
        if databaseSize ?? 0 == 0, Self.holdsBlobs(root + "/blobs") {
            throw CoordinatorError(
                .storage,
                "the database \(databasePath) is \(databaseSize == nil ? "missing" : "empty") but \(root)/blobs holds artifacts: "
                    + "the history, cache index and worker keys it held are gone. Conduit did not start. Restore the newest "
                    + "backup with `conduit coordinator --data-dir \(root) --recover`, or move \(root)/blobs aside to start empty")
        }
        do {
            self.store = try ConduitStore(path: databasePath)
        } catch let damage as StoreDamage {
            throw CoordinatorError(
                .storage,
                "\(damage). Conduit did not start. Restore the newest backup that passes the check with "
                    + "`conduit coordinator --data-dir \(root) --recover` (the damaged file is kept beside it), or move "
                    + "\(databasePath) aside to start with an empty history")
        }
        self.blobs = try BlobStore(root: root + "/blobs")
        self.transport = transport
        self.logger = logger
        self.logDirectory = root + "/logs"
        self.backups = DatabaseBackups(dataDirectory: root)
        // The first backup of a new data directory is due a day after it started (or at a clean shutdown).
        self.lastBackupAt = backups.list().first?.takenAt ?? configuration.clock.wallMilliseconds()
        let removed = blobs.removeTemporaryFiles()
        if removed.files > 0 {
            logger.info("removed \(removed.files) partial uploads (\(removed.bytes) bytes) left under \(blobs.tmpDirectory)")
        }
        try store.markAllWorkersDisconnected()
    }

    /// Whether the blob store at `root` holds any finished blob (without listing all of them).
    static func holdsBlobs(_ root: String) -> Bool {
        let fileManager = FileManager.default
        let directory = root + "/blobs"
        for prefix in (try? fileManager.contentsOfDirectory(atPath: directory)) ?? [] {
            if let names = try? fileManager.contentsOfDirectory(atPath: directory + "/" + prefix), !names.isEmpty { return true }
        }
        return false
    }

    /// Picks up the runs an earlier coordinator process left running (see `restoreRuns()`).
    /// `run()` does this first; callers that drive the service by hand (simulations) call it
    /// themselves. Only the first call does anything.
    public func restore() {
        guard !restored else { return }
        restored = true
        restoreRuns()
        flushOutbox()
    }

    /// Handles transport events and timers until the task is canceled or the service group shuts down.
    public func run() async throws {
        restore()
        let events = transport.events
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [weak self] in
                for await event in events {
                    guard let self else { return }
                    await self.handle(event)
                }
            }
            let interval = configuration.heartbeatInterval
            group.addTask { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    await self.tick()
                }
            }
            // The daily backup: the copy is made off the actor, which keeps handling events. The
            // group waits for a copy in progress before the shutdown backup below begins.
            group.addTask { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    await self.backUpIfDue()
                }
            }
            let background = self.background.stream
            group.addTask {
                await withTaskGroup(of: Void.self) { jobs in
                    for await job in background { jobs.addTask { await job() } }
                }
            }
            await withGracefulShutdownHandler {
                await group.next()
            } onGracefulShutdown: { [transport] in
                transport.close()
            }
            self.background.continuation.finish()
            group.cancelAll()
        }
        backUp(why: "clean shutdown")
    }

    // MARK: Sending

    func send(_ payload: Payload, to peer: PeerID, cause: UInt64 = 0, bulk: [UInt8] = []) {
        outbox.append((messages.make(payload, cause: cause, bulk: bulk), peer))
    }

    /// Writes the pending batch (one transaction), then sends what was queued, so that no
    /// message goes out before the transitions behind it are durable. A batch holding only
    /// progress notes waits for the next write when nothing is to be sent.
    ///
    /// A batch that cannot be written because the disk is full or failing is kept, and the next
    /// flush (at the latest the next tick) writes it with whatever joined it since: an attempt's
    /// outcome recorded while the disk was full reaches its row once space is back, instead of
    /// the row staying `running`. Accepting acknowledgements are withheld meanwhile (the worker
    /// sends its report again). A batch refused for any other reason is dropped, as it would fail
    /// again.
    func flushOutbox(throttled: Bool = false) {
        eventsSinceFlush = 0
        var durable = true
        // While the disk refuses writes, a flush after a worker's message tries the kept batch again
        // at most once a second (each try re-runs all of it); ticks, queries and submissions try at once.
        let retryTooSoon = throttled && unwrittenSince != nil && monotonicNow() - lastFailedWrite < 1000
        if retryTooSoon {
            durable = false
        } else if !batch.isEmpty && (batch.isUrgent || !outbox.isEmpty) {
            do {
                try writeBatch()
                if let since = unwrittenSince {
                    unwrittenSince = nil
                    logger.notice("the database is written again; transitions held for \(Self.seconds(max(0, wallNow() - since))) are recorded")
                }
            } catch where ConduitStore.isDiskFailure(error) {
                durable = false
                lastFailedWrite = monotonicNow()
                if unwrittenSince == nil {
                    unwrittenSince = wallNow()
                    logger.error("could not record transitions (\(error)); they are kept and written again once the disk allows, and acknowledgements are withheld until then")
                }
                checkDiskSpace()
            } catch {
                durable = false
                batch = StoreBatch()
                logger.error("could not record transitions; acknowledgements are withheld: \(error)")
                checkDiskSpace()
            }
        }
        let pending = outbox
        outbox.removeAll(keepingCapacity: true)
        for (message, peer) in pending {
            if !durable, case .attemptAcknowledged(let ack) = message.payload, ack.accepted { continue }
            transport.send(message, to: peer)
        }
    }

    /// Writes the pending batch now (one transaction) and starts a new one; a batch that fails is
    /// left in place for the caller to keep or drop.
    func writeBatch() throws {
        let start = ContinuousClock.now
        try store.write(batch)
        let elapsed = (ContinuousClock.now - start).components
        telemetry.storeCommit.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        batch = StoreBatch()
    }

    func bump() {
        version += 1
    }

    // MARK: Timers

    /// Once a heartbeat interval: loses silent workers, gives up attempts whose lease ran out,
    /// queues retries whose backoff is over, checks the disk, and renews the leases of every
    /// attempt a worker holds by naming them in its heartbeat.
    func tick() {
        let now = monotonicNow()
        let timeout = configuration.lossTimeoutMilliseconds
        for id in workers.keys.sorted() {
            guard let worker = workers[id], now - worker.lastSeen >= timeout else { continue }
            logger.warning("worker lost: silent too long", metadata: ["worker": "\(id)"])
            removeWorker(id: id, reason: "worker \(worker.name) stopped answering for \(timeout / 1000) s")
        }
        expireLeases(now: now)
        queueDueRetries(now: wallNow())
        expireSweeps(now: wallNow())
        checkDiskSpace()
        logDeniedHandshakes()
        for id in workers.keys.sorted() {
            guard let worker = workers[id] else { continue }
            send(.heartbeat(Heartbeat(runningAttempts: worker.running.sorted(), sequence: worker.heartbeatSequence)), to: worker.peer)
        }
        flushOutbox()
    }

    /// Wall-clock milliseconds (records).
    func wallNow() -> Int64 { configuration.clock.wallMilliseconds() }

    /// Monotonic milliseconds (liveness, leases).
    func monotonicNow() -> Int64 { configuration.clock.monotonicMilliseconds() }
}

/// A finished run kept in memory for reports.
struct FinishedRun {
    var plan: PipelinePlan
    var record: RunRecord
    /// In plan order.
    var steps: [StepRecord]
}

