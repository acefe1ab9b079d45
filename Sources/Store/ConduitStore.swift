import Foundation
import GRDB
import Protocol
import Synchronization

/// The coordinator's database: runs, steps, attempts, artifacts, cache entries, workers, events.
///
/// SQLite in WAL mode with `synchronous=FULL`, so a transition that was acknowledged survives a
/// crash or power loss. Each public method is one transaction that keeps the invariants. Only the
/// coordinator opens this database.
public final class ConduitStore: Sendable {
    let writer: any DatabaseWriter
    /// The same database as `writer` when it is a file: backups read it through one of the pool's
    /// read-only connections, so writers go on meanwhile.
    private let pool: DatabasePool?
    /// Set by ``simulateFullDisk(_:)``.
    private let fullDisk = Mutex(false)

    /// Opens (creating if needed, mode 0600) the database at `path`, checks it with
    /// `PRAGMA quick_check`, and migrates it.
    ///
    /// - Throws: ``StoreDamage`` when the file is not a database or the check finds damaged pages:
    ///   a damaged database is never opened for writing.
    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            // SQLite gives its WAL and shared-memory files the database file's mode.
            let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if descriptor >= 0 { close(descriptor) }
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            let problems = try pool.writeWithoutTransaction { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            guard problems == ["ok"] else { throw StoreDamage(path: path, detail: problems.prefix(5).joined(separator: "; ")) }
        } catch let error as StoreDamage {
            throw error
        } catch let error as DatabaseError where Self.damageCodes.contains(error.resultCode) {
            throw StoreDamage(path: path, detail: error.message ?? "\(error.resultCode)")
        }
        // Set on the writer connection after the pool is open: opening a pool sets
        // `synchronous = NORMAL` (WAL synced only at checkpoints), after `prepareDatabase` runs.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Migrations.migrator.migrate(pool)
        self.writer = pool
        self.pool = pool
    }

    /// SQLite results that mean the file itself is damaged.
    static let damageCodes: [ResultCode] = [.SQLITE_CORRUPT, .SQLITE_NOTADB]

    /// The result of `PRAGMA quick_check` on the database file at `path`, opened read-only: `nil` when
    /// it is intact, else what is wrong (a file that is not a database at all included).
    public static func quickCheck(path: String) -> String? {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            let problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            try queue.close()
            return problems == ["ok"] ? nil : problems.prefix(5).joined(separator: "; ")
        } catch let error as DatabaseError {
            return error.message ?? "\(error.resultCode)"
        } catch {
            return "\(error)"
        }
    }

    /// Writes a consistent copy of the database to `path` (which must not exist) with `VACUUM INTO`,
    /// and returns once it is fsynced (mode 0600).
    ///
    /// The copy is read through a read-only connection of its own (one of the pool's readers): it
    /// sees one snapshot, and writers go on while it is made (WAL).
    public func backup(to path: String) throws {
        if let pool {
            try pool.unsafeRead { db in try Self.vacuum(db, into: path) }
        } else {
            try writer.writeWithoutTransaction { db in try Self.vacuum(db, into: path) }
        }
    }

    /// ``backup(to:)`` that suspends the caller instead of blocking its thread: the copy runs on the
    /// reader connection's own thread, so an actor that awaits it keeps handling other calls.
    ///
    /// - Parameter beforeCopy: called on that thread just before the copy starts (a seam for tests
    ///   that need a backup in progress; it may block).
    public func backup(to path: String, beforeCopy: @escaping @Sendable () -> Void) async throws {
        if let pool {
            try await pool.unsafeRead { db in
                beforeCopy()
                try Self.vacuum(db, into: path)
            }
        } else {
            try await writer.writeWithoutTransaction { db in
                beforeCopy()
                try Self.vacuum(db, into: path)
            }
        }
    }

    /// `VACUUM INTO path` outside any transaction, then mode 0600 and an fsync of the copy.
    private static func vacuum(_ db: Database, into path: String) throws {
        try db.execute(sql: "VACUUM INTO ?", arguments: [path])
        chmod(path, 0o600)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }

    /// Whether `error` is SQLite failing to write for want of space or a working disk (full, I/O
    /// error, cannot open a journal): a write that failed so may succeed later as it is.
    public static func isDiskFailure(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return [ResultCode.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN].contains(error.resultCode)
    }

    /// While `full` is set, every ``write(_:)`` fails as SQLite fails on a full disk (`SQLITE_FULL`):
    /// its statements run, then its transaction is rolled back, so nothing of it is recorded. A seam
    /// for fault tests; a running coordinator never sets it.
    public func simulateFullDisk(_ full: Bool) {
        fullDisk.withLock { $0 = full }
    }

    /// Every cache entry (for whole-store checks such as `conduit store verify`).
    public func allCacheEntries() throws -> [CacheEntryRecord] {
        try writer.read { db in try CacheEntryRecord.fetchAll(db) }
    }

    /// The database's journal mode (`wal`).
    public func journalMode() throws -> String {
        try writer.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// The writer connection's `PRAGMA synchronous` (2 is FULL: every commit is fsynced).
    public func synchronousMode() throws -> Int {
        try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// An in-memory database, for tests.
    public init() throws {
        let queue = try DatabaseQueue()
        try Migrations.migrator.migrate(queue)
        self.writer = queue
        self.pool = nil
    }

    // MARK: Batches

    /// Applies a batch in one transaction (one fsync).
    public func write(_ batch: StoreBatch) throws {
        guard !batch.isEmpty else { return }
        try writer.write { db in
            for id in batch.newRunIDs {
                guard let new = batch.newRuns[id] else { continue }
                try Self.insert(new.run, steps: new.steps, into: db)
            }
            for run in batch.runs.values { try run.update(db) }
            // Steps and attempts are the bulk of every batch: cached statements, no SQL built per row;
            // an attempt seen before is updated in place (its index entries stay untouched).
            let updateStep = try db.cachedStatement(sql: """
                UPDATE steps SET status = ?, reused = ?, attempts = ?, worker = ?, reason = ?, cache_key = ?,
                    manifest_json = ?, outputs_json = ?, source_run = ?, source_attempt = ?, log_attempt = ?,
                    metrics_json = ?, started_at = ?, finished_at = ?
                WHERE run_id = ? AND name = ?
                """)
            for step in batch.steps.values {
                try updateStep.execute(arguments: [
                    step.status.rawValue, step.reused, step.attempts, step.worker, step.reason, step.cacheKey,
                    step.manifestJSON, step.outputsJSON, step.sourceRun, step.sourceAttempt, step.logAttempt,
                    step.metricsJSON, step.startedAt, step.finishedAt, step.runID, step.name,
                ])
            }
            let upsertAttempt = try db.cachedStatement(sql: """
                INSERT INTO attempts (id, run_id, step, worker, status, exit_code, signal, dispatched_at, started_at, finished_at, message, gpu_devices, worker_identity, tracking_tree)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET worker = excluded.worker, status = excluded.status, exit_code = excluded.exit_code,
                    signal = excluded.signal, dispatched_at = excluded.dispatched_at, started_at = excluded.started_at,
                    finished_at = excluded.finished_at, message = excluded.message, gpu_devices = excluded.gpu_devices,
                    worker_identity = excluded.worker_identity, tracking_tree = excluded.tracking_tree
                """)
            for attempt in batch.attempts.values {
                try upsertAttempt.execute(arguments: [
                    attempt.id, attempt.runID, attempt.step, attempt.worker, attempt.status, attempt.exitCode,
                    attempt.signal, attempt.dispatchedAt, attempt.startedAt, attempt.finishedAt, attempt.message, attempt.gpuDevices,
                    attempt.workerIdentity, attempt.trackingTree,
                ])
            }
            if !batch.artifacts.isEmpty {
                let insertArtifact = try db.cachedStatement(sql: "INSERT OR IGNORE INTO artifacts (digest, kind, size, created_at) VALUES (?, ?, ?, ?)")
                for artifact in batch.artifacts {
                    try insertArtifact.execute(arguments: [artifact.digest, artifact.kind, artifact.size, artifact.createdAt])
                }
            }
            if !batch.cacheEntries.isEmpty {
                let saveEntry = try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO cache_entries (key, run_id, step, attempt_id, outputs_json, created_at) VALUES (?, ?, ?, ?, ?, ?)
                    """)
                for entry in batch.cacheEntries {
                    try saveEntry.execute(arguments: [entry.key, entry.runID, entry.step, entry.attemptID, entry.outputsJSON, entry.createdAt])
                }
            }
            if !batch.metricPoints.isEmpty {
                let insertPoint = try db.cachedStatement(sql: """
                    INSERT OR IGNORE INTO metric_points (attempt_id, point, run_id, step, mlflow_run, key, step_index, timestamp, value)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for point in batch.metricPoints {
                    try insertPoint.execute(arguments: [
                        point.attemptID, point.point, point.runID, point.step, point.mlflowRun, point.key, point.stepIndex, point.timestamp, point.value,
                    ])
                }
            }
            if !batch.trackedValues.isEmpty {
                let saveValue = try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO tracked_values (attempt_id, run_id, step, kind, mlflow_run, key, value) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for value in batch.trackedValues {
                    try saveValue.execute(arguments: [value.attemptID, value.runID, value.step, value.kind, value.mlflowRun, value.key, value.value])
                }
            }
            for asset in batch.outputAssets {
                try asset.insert(db, onConflict: .ignore)
            }
            if !batch.events.isEmpty {
                let insertEvent = try db.cachedStatement(sql: "INSERT INTO events (run_id, step, kind, detail, at) VALUES (?, ?, ?, ?, ?)")
                for event in batch.events {
                    try insertEvent.execute(arguments: [event.runID, event.step, event.kind, event.detail, event.at])
                }
            }
            if fullDisk.withLock({ $0 }) {
                throw DatabaseError(resultCode: .SQLITE_FULL, message: "database or disk is full (simulated)")
            }
        }
    }

    /// Inserts a run row and its step rows (one cached statement for all steps).
    private static func insert(_ run: RunRecord, steps: [StepRecord], into db: Database) throws {
        try run.insert(db)
        let insertStep = try db.cachedStatement(sql: """
            INSERT INTO steps (run_id, name, position, status, reused, attempts, worker, reason, cache_key, manifest_json,
                outputs_json, source_run, source_attempt, log_attempt, metrics_json, started_at, finished_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for step in steps {
            try insertStep.execute(arguments: [
                step.runID, step.name, step.position, step.status.rawValue, step.reused, step.attempts, step.worker,
                step.reason, step.cacheKey, step.manifestJSON, step.outputsJSON, step.sourceRun, step.sourceAttempt,
                step.logAttempt, step.metricsJSON, step.startedAt, step.finishedAt,
            ])
        }
    }

    // MARK: Runs

    public func run(id: String) throws -> RunRecord? {
        try writer.read { db in try RunRecord.fetchOne(db, key: id) }
    }

    /// The most recent runs first.
    public func runs(limit: Int) throws -> [RunRecord] {
        try writer.read { db in
            try RunRecord.order(RunRecord.Columns.createdAt.desc).limit(limit).fetchAll(db)
        }
    }

    /// Runs that had not ended when the coordinator last stopped.
    public func unfinishedRuns() throws -> [RunRecord] {
        try writer.read { db in
            try RunRecord.filter([RunStatus.queued.rawValue, RunStatus.running.rawValue].contains(RunRecord.Columns.status)).fetchAll(db)
        }
    }

    // MARK: Steps

    public func steps(runID: String) throws -> [StepRecord] {
        try writer.read { db in
            try StepRecord.filter(StepRecord.Columns.runID == runID).order(StepRecord.Columns.position).fetchAll(db)
        }
    }

    public func step(runID: String, name: String) throws -> StepRecord? {
        try writer.read { db in
            try StepRecord.fetchOne(db, key: ["run_id": runID, "name": name])
        }
    }

    /// Step name → metrics JSON of a run's steps that recorded metrics; reads only those two
    /// columns, so a report of a fully reused run of a thousand steps stays cheap.
    public func stepMetrics(runID: String) throws -> [String: String] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT name, metrics_json FROM steps WHERE run_id = ? AND metrics_json IS NOT NULL", arguments: [runID])
            return Dictionary(rows.map { ($0["name"] as String, $0["metrics_json"] as String) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// The latest completed (not reused) executions of step `step` that recorded a manifest, in
    /// runs created at or before `createdBefore` other than `runID`, latest first, at most `limit`:
    /// each as its run's id and the manifest's JSON.
    ///
    /// Executions in runs of `pipeline` only, when there is any; otherwise those of any pipeline
    /// (a renamed pipeline is still compared with its past).
    public func earlierExecutions(
        pipeline: String, step: String, before runID: String, createdBefore: Int64, limit: Int
    ) throws -> [(run: String, manifestJSON: String)] {
        try writer.read { db in
            let sql = """
                SELECT steps.run_id AS r_id, steps.manifest_json AS m, (runs.pipeline = ?) AS same
                FROM steps JOIN runs ON runs.id = steps.run_id
                WHERE steps.name = ? AND steps.run_id != ? AND steps.manifest_json IS NOT NULL
                  AND runs.created_at <= ? AND steps.reused = 0 AND steps.status = 'completed'
                ORDER BY same DESC, runs.created_at DESC LIMIT ?
                """
            let rows = try Row.fetchAll(db, sql: sql, arguments: [pipeline, step, runID, createdBefore, max(0, limit)])
            let samePipeline = rows.first.map { ($0["same"] as Bool?) == true } ?? false
            return rows.filter { !samePipeline || ($0["same"] as Bool?) == true }
                .map { (run: $0["r_id"] as String, manifestJSON: $0["m"] as String) }
        }
    }

    // MARK: Attempts

    public func attempt(id: String) throws -> AttemptRecord? {
        try writer.read { db in try AttemptRecord.fetchOne(db, key: id) }
    }

    /// Every attempt of a run, oldest first.
    public func attempts(runID: String) throws -> [AttemptRecord] {
        try writer.read { db in
            try AttemptRecord.filter(AttemptRecord.Columns.runID == runID).order(Column("dispatched_at")).fetchAll(db)
        }
    }

    public func attempts(runID: String, step: String) throws -> [AttemptRecord] {
        try writer.read { db in
            try AttemptRecord.filter(AttemptRecord.Columns.runID == runID && AttemptRecord.Columns.step == step)
                .order(Column("dispatched_at")).fetchAll(db)
        }
    }

    /// Closes the rows of attempts still `dispatched` or `running` in runs that have ended: such an
    /// attempt is over, and its outcome was never recorded. Sets `status`, `message` and the finish
    /// time `at`; returns how many rows it closed.
    public func closeAttemptsOfEndedRuns(status: String, message: String, at: Int64) throws -> Int {
        try writer.write { db in
            try db.execute(
                sql: """
                    UPDATE attempts SET status = ?, finished_at = ?, message = ?
                    WHERE status IN ('dispatched', 'running')
                      AND run_id IN (SELECT id FROM runs WHERE status NOT IN (?, ?))
                    """,
                arguments: [status, at, message, RunStatus.queued.rawValue, RunStatus.running.rawValue])
            return db.changesCount
        }
    }

    // MARK: Cache

    /// The cache entry for `key`: one SELECT on the writer's connection, without the cost of a
    /// read transaction (a fully cached run of a thousand steps makes a thousand of these).
    public func cacheEntry(key: String) throws -> CacheEntryRecord? {
        try writer.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM cache_entries WHERE key = ?")
            return try CacheEntryRecord.fetchOne(statement, arguments: [key])
        }
    }

    /// Forgets a cache entry whose outputs are no longer intact.
    public func deleteCacheEntry(key: String) throws {
        _ = try writer.write { db in try CacheEntryRecord.deleteOne(db, key: key) }
    }

    // MARK: Workers

    public func saveWorker(_ worker: WorkerRecord) throws {
        try writer.write { db in try worker.save(db) }
    }

    public func workers() throws -> [WorkerRecord] {
        try writer.read { db in try WorkerRecord.order(Column("last_seen").desc).fetchAll(db) }
    }

    /// Marks every worker disconnected (at coordinator start-up).
    public func markAllWorkersDisconnected() throws {
        try writer.write { db in try db.execute(sql: "UPDATE workers SET connected = 0") }
    }

    // MARK: Worker keys

    /// Every worker key ever allowed, revoked ones included, oldest first.
    public func workerKeys() throws -> [WorkerKeyRecord] {
        try writer.read { db in try WorkerKeyRecord.order(Column("added_at"), WorkerKeyRecord.Columns.publicKey).fetchAll(db) }
    }

    /// Allows a key (or allows a revoked one again, under its new name).
    public func saveWorkerKey(_ key: WorkerKeyRecord) throws {
        try writer.write { db in try key.save(db) }
    }

    /// Marks a key revoked at `at`; returns the updated row, or `nil` when the key was never allowed.
    public func revokeWorkerKey(_ publicKey: String, at: Int64) throws -> WorkerKeyRecord? {
        try writer.write { db in
            guard var key = try WorkerKeyRecord.fetchOne(db, key: publicKey) else { return nil }
            if key.revokedAt == nil {
                key.revokedAt = at
                try key.update(db)
            }
            return key
        }
    }

    // MARK: Tracking

    /// The metric values steps of a run logged (of one step when `step` is given), after `seq`, in
    /// the order they were recorded; at most `limit`.
    public func metricPoints(runID: String, step: String? = nil, after seq: Int64 = 0, limit: Int = 1_000_000) throws -> [MetricPointRecord] {
        try writer.read { db in
            var request = MetricPointRecord.all().filter(Column("run_id") == runID && Column("seq") > seq)
            if let step { request = request.filter(Column("step") == step) }
            return try request.order(Column("seq")).limit(limit).fetchAll(db)
        }
    }

    /// The params and tags steps of a run logged (of one step when `step` is given).
    public func trackedValues(runID: String, step: String? = nil) throws -> [TrackedValueRecord] {
        try writer.read { db in
            var request = TrackedValueRecord.all().filter(Column("run_id") == runID)
            if let step { request = request.filter(Column("step") == step) }
            return try request.order(Column("step"), Column("attempt_id"), Column("kind"), Column("mlflow_run"), Column("key")).fetchAll(db)
        }
    }

    // MARK: Events

    public func events(runID: String, after seq: Int64 = 0) throws -> [EventRecord] {
        try writer.read { db in
            try EventRecord.filter(Column("run_id") == runID && Column("seq") > seq).order(Column("seq")).fetchAll(db)
        }
    }
}
