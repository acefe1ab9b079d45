import Artifacts
import Coordinator
import Foundation
import Glibc
import Protocol
import Spec
import Store
import TestKit
import Testing
import Transport

/// The coordinator's data directory on a damaged disk: blobs changed in place, a damaged or emptied
/// database, leftover partial uploads, and who may read the files.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DataDirectoryIntegrityTests {
    // MARK: Helpers

    /// A running coordinator on `directory` with one registered in-memory worker `w`.
    func withWorker(
        directory: String, _ body: (CoordinatorService, InMemoryWorkerTransport, AsyncStream<WorkerTransportEvent>.AsyncIterator) async throws -> Void
    ) async throws {
        let network = InMemoryNetwork()
        let service = try CoordinatorService(
            configuration: CoordinatorConfiguration(dataDirectory: directory, heartbeatInterval: .milliseconds(50)), transport: network.coordinator)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            let worker = network.connectWorker(identity: "w")
            let capabilities = WorkerCapabilities(cores: 1, memoryBytes: 1 << 30, slots: 1, labels: [], hostname: "h")
            worker.send(Message(envelope: Envelope(code: .hello, messageID: 1, senderID: "w"), payload: .hello(Hello(workerName: "w", capabilities: capabilities))))
            var events = worker.events.makeAsyncIterator()
            guard case .welcome? = await Self.next(&events)?.payload else {
                Issue.record("the worker must be welcomed")
                return
            }
            try await body(service, worker, events)
            network.coordinator.close()
            group.cancelAll()
        }
    }

    /// The next message the worker receives that is not a heartbeat.
    static func next(_ events: inout AsyncStream<WorkerTransportEvent>.AsyncIterator) async -> Message? {
        while let event = await events.next() {
            if case .message(let message) = event, message.payload.code != MessageCode.heartbeat { return message }
        }
        return nil
    }

    static func send(_ payload: Payload, from worker: InMemoryWorkerTransport, bulk: [UInt8] = []) {
        worker.send(Message(envelope: Envelope(code: payload.code, messageID: 7, senderID: "w"), payload: payload, bulk: bulk))
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// Flips one byte of a stored blob in place, keeping its size.
    static func damageInPlace(_ path: String, at offset: Int = 0) throws {
        chmod(path, 0o600)
        defer { chmod(path, 0o400) }
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: [byte ^ 0xFF])
    }

    // MARK: Blobs

    @Test func aFetchOfABlobChangedInPlaceIsRefusedAndTheBlobQuarantinedUntilTheRightBytesComeBack() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-integrity")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withWorker(directory: directory) { service, worker, events in
            var events = events
            let store = service.artifactStore
            let bytes = Array("an output a later step reads\n".utf8)
            let digest = try store.put(bytes)
            try Self.damageInPlace(store.path(of: digest), at: 5)
            #expect(store.size(of: digest) == Int64(bytes.count), "same size")

            Self.send(.fetchRequest(FetchRequest(blob: digest.hex, offset: 0, credit: 8)), from: worker)
            let reply = await Self.next(&events)
            guard case .fetchFailed(let failed)? = reply?.payload else {
                Issue.record("a damaged blob must not be served: got \(String(describing: reply?.payload))")
                return
            }
            #expect(failed.reason.contains("failed verification"), "\(failed.reason)")
            #expect(!store.contains(digest))
            #expect(store.isQuarantined(digest))
            #expect(FileManager.default.fileExists(atPath: directory + "/blobs/quarantine/\(digest.hex)"))
            #expect(try await service.missingBlobs([digest.hex]) == [digest.hex], "a client is asked to upload it again")

            // The right bytes take its place, and are served.
            #expect(try store.put(bytes) == digest)
            Self.send(.fetchRequest(FetchRequest(blob: digest.hex, offset: 0, credit: 8)), from: worker)
            guard case .fetchChunk(let chunk)? = await Self.next(&events)?.payload else {
                Issue.record("the repaired blob must be served")
                return
            }
            #expect(chunk.size == Int64(bytes.count))
        }
    }

    @Test func aFailedUploadLeavesNoPartialFileAndNeitherDoesARestart() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-partials")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tmp = directory + "/blobs/tmp"
        try await withWorker(directory: directory) { service, worker, events in
            var events = events
            let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
                PlannedStep(name: "a", commandTemplate: "true", command: CommandTemplate(segments: [.text("true")])),
            ], outputs: [])
            _ = try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
            var attemptID: String?
            while let message = await Self.next(&events) {
                if case .dispatch(let dispatch) = message.payload {
                    attemptID = dispatch.attemptID
                    break
                }
            }
            let attempt = try #require(attemptID)
            let bytes = Array("ten bytes!".utf8)
            let digest = SHA256Hasher.digest(of: bytes)
            Self.send(.uploadBegin(UploadBegin(attemptID: attempt, blob: digest.hex, size: 10)), from: worker)
            guard case .uploadCredit? = await Self.next(&events)?.payload else {
                Issue.record("the upload must be granted credit")
                return
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp) == ["\(digest.hex).partial"])
            // A chunk past the announced size fails the upload (as a write error on a full disk does).
            let tooLong = bytes + bytes
            Self.send(
                .uploadChunk(UploadChunk(attemptID: attempt, blob: digest.hex, offset: 0, checksum: PrefixChecksum.of(tooLong))),
                from: worker, bulk: tooLong)
            guard case .uploadStored(let stored)? = await Self.next(&events)?.payload else {
                Issue.record("the upload must be answered")
                return
            }
            #expect(!stored.ok)
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty, "the failed upload's partial file is removed")
        }
        // A partial upload left by a process that died is removed when the coordinator starts again.
        let leftover = tmp + "/" + String(repeating: "ab", count: 32) + ".partial"
        #expect(FileManager.default.createFile(atPath: leftover, contents: Data(repeating: 7, count: 4096)))
        let network = InMemoryNetwork()
        let restarted = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: network.coordinator)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty, "partials are cleaned on start")
        withExtendedLifetime(restarted) {}
    }

    // MARK: Permissions

    @Test func theDataDirectoryDatabaseBlobsAndLogsAreOwnerOnly() async throws {
        let parent = try ProcessHarness.temporaryDirectory("conduit-modes")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let directory = parent + "/data"
        let previous = umask(0o022)  // the usual umask: without explicit modes, files would be 0644
        defer { umask(previous) }
        try await withWorker(directory: directory) { service, _, _ in
            let digest = try service.artifactStore.put(Array("a secret output".utf8))
            for path in [directory, directory + "/logs", directory + "/blobs", directory + "/blobs/blobs", directory + "/blobs/tmp",
                         directory + "/blobs/blobs/\(digest.hex.prefix(2))"] {
                #expect(Self.mode(path) == 0o700, "\(path)")
            }
            for path in [directory + "/conduit.sqlite", directory + "/conduit.sqlite-wal", directory + "/coordinator.lock"] {
                #expect(Self.mode(path) == 0o600, "\(path)")
            }
            #expect(Self.mode(service.artifactStore.path(of: digest)) == 0o400)
        }
        // A clean shutdown leaves a backup, owner-only too.
        let backups = DatabaseBackups(dataDirectory: directory).list()
        #expect(backups.count == 1)
        #expect(Self.mode(directory + "/backups") == 0o700)
        #expect(backups.first.map { Self.mode($0.path) } == 0o600)
    }

    // MARK: The database

    /// A data directory with one worker key recorded (state that must not silently vanish).
    func dataDirectoryWithState() throws -> (directory: String, digest: Digest) {
        let directory = try ProcessHarness.temporaryDirectory("conduit-db")
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        let digest = try service.artifactStore.put(Array("an artifact".utf8))
        withExtendedLifetime(service) {}
        let store = try ConduitStore(path: directory + "/conduit.sqlite")
        try store.saveWorkerKey(WorkerKeyRecord(publicKey: "K" + String(repeating: "x", count: 39), name: "gpu-1", addedAt: 1))
        return (directory, digest)
    }

    /// Overwrites the database's pages with garbage, as a failing disk would: every page after the
    /// first, or only the last one (a data page nothing reads on start: only a check finds it).
    static func damagePages(_ path: String, onlyTheLast: Bool = false) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try #require(size > 4096)
        let start = onlyTheLast ? size - 4096 : 4096
        try handle.seek(toOffset: start)
        try handle.write(contentsOf: Data((0..<Int(size - start)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }))
    }

    @Test func aDatabaseWithDamagedPagesIsRefusedWithWhatToDo() throws {
        let (directory, _) = try dataDirectoryWithState()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.damagePages(directory + "/conduit.sqlite", onlyTheLast: true)
        #expect {
            try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        } throws: { error in
            let message = "\(error)"
            return (error as? CoordinatorError)?.code == .storage && message.contains("damaged") && message.contains("--recover")
                && message.contains(directory)
        }
    }

    @Test func anEmptyDatabaseBesideStoredBlobsIsRefused() throws {
        let (directory, _) = try dataDirectoryWithState()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for suffix in ["", "-wal", "-shm"] { truncate(directory + "/conduit.sqlite" + suffix, 0) }
        #expect {
            try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        } throws: { error in
            let message = "\(error)"
            return message.contains("empty") && message.contains("--recover") && message.contains("blobs")
        }
    }

    @Test func recoverRestoresTheNewestBackupThatPassesTheCheckAndKeepsTheDamagedDatabase() throws {
        let (directory, _) = try dataDirectoryWithState()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let backups = DatabaseBackups(dataDirectory: directory)
        do {
            let store = try ConduitStore(path: directory + "/conduit.sqlite")
            try backups.take(of: store, now: 1_800_000_000_000)
            try backups.take(of: store, now: 1_800_000_060_000)
            for minute in 2...4 { try backups.take(of: store, now: 1_800_000_000_000 + Int64(minute) * 60_000) }
        }
        #expect(backups.list().count == 3, "a rotation of three")
        let newest = try #require(backups.list().first)
        try Self.damagePages(newest.path)  // the newest backup is damaged too: the next one is used
        try Self.damagePages(directory + "/conduit.sqlite")

        let outcome = try DatabaseRecovery.recover(dataDirectory: directory, now: 1_800_000_600_000)
        #expect(outcome.backup?.takenAt == 1_800_000_180_000)
        #expect(outcome.skipped.map { $0.path } == [newest.path])
        #expect(outcome.summary.contains("2027-01-15 08:03:00 UTC"), "\(outcome.summary)")
        let aside = try #require(outcome.movedAside)
        #expect(FileManager.default.fileExists(atPath: aside), "the damaged database is kept")

        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        withExtendedLifetime(service) {}
        let keys = try ConduitStore(path: directory + "/conduit.sqlite").workerKeys()
        #expect(keys.map(\.name) == ["gpu-1"], "the worker allow-list is back")

        #expect(throws: CoordinatorError.self, "a sound database is not replaced") {
            try DatabaseRecovery.recover(dataDirectory: directory, now: 1_800_000_700_000)
        }
    }

    @Test func recoverWithoutAnIntactBackupStartsAFreshDatabaseAndKeepsBlobsAndLogs() throws {
        let (directory, digest) = try dataDirectoryWithState()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let backups = DatabaseBackups(dataDirectory: directory)
        do {
            let store = try ConduitStore(path: directory + "/conduit.sqlite")
            try backups.take(of: store, now: 1_800_000_000_000)
        }
        let log = directory + "/logs/run-1-0-1.log"
        #expect(FileManager.default.createFile(atPath: log, contents: Data("step output\n".utf8)))
        let backup = try #require(backups.list().first)
        try Self.damagePages(backup.path)
        try Self.damagePages(directory + "/conduit.sqlite")
        let damaged = try Data(contentsOf: URL(fileURLWithPath: directory + "/conduit.sqlite"))

        let outcome = try DatabaseRecovery.recover(dataDirectory: directory, now: 1_800_000_600_000)
        #expect(outcome.backup == nil)
        #expect(outcome.skipped.map { $0.path } == [backup.path])
        #expect(outcome.keptBlobs == 1 && outcome.keptLogs == 1, "\(outcome.keptBlobs) blobs, \(outcome.keptLogs) logs")
        let aside = try #require(outcome.movedAside)
        #expect(try Data(contentsOf: URL(fileURLWithPath: aside)) == damaged, "the damaged database is kept as it was")
        #expect(FileManager.default.fileExists(atPath: backup.path), "the damaged backup is kept")
        let summary = outcome.summary
        for words in ["started a fresh database", "run history", "cache index", "worker allow-list", "1 blobs", "1 step logs", aside, "conduit workers allow"] {
            #expect(summary.contains(words), "\(words) in: \(summary)")
        }

        // The coordinator starts on it, with the blobs and logs where they were and no worker keys.
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        #expect(service.artifactStore.contains(digest))
        withExtendedLifetime(service) {}
        #expect(FileManager.default.fileExists(atPath: log))
        #expect(try ConduitStore(path: directory + "/conduit.sqlite").workerKeys().isEmpty)
        #expect(throws: CoordinatorError.self, "the fresh database is sound: nothing to recover") {
            try DatabaseRecovery.recover(dataDirectory: directory, now: 1_800_000_700_000)
        }
    }

    @Test func recoverWithNoBackupAtAllStartsAFreshDatabase() throws {
        let (directory, _) = try dataDirectoryWithState()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for suffix in ["", "-wal", "-shm"] { truncate(directory + "/conduit.sqlite" + suffix, 0) }
        let outcome = try DatabaseRecovery.recover(dataDirectory: directory, now: 1_800_000_600_000)
        #expect(outcome.backup == nil && outcome.skipped.isEmpty)
        #expect(outcome.summary.hasPrefix("there is no backup under \(directory)/backups; started a fresh database"), "\(outcome.summary)")
        #expect(outcome.movedAside != nil, "the empty file is moved aside too")
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
        withExtendedLifetime(service) {}
    }

    // MARK: conduit store verify

    @Test func storeVerifyFindsAndRepairsCorruptAndMissingBlobsAndTheCacheEntriesThatUseThem() throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-verify")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good: Digest
        let bad: Digest
        let gone: Digest
        do {
            let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: InMemoryNetwork().coordinator)
            let store = service.artifactStore
            good = try store.put(Array("good file".utf8))
            bad = try store.put(Array("file damaged on disk".utf8))
            gone = try store.put(Array("file lost".utf8))
            func artifact(_ digest: Digest, _ name: String) throws -> Digest {
                try store.put(TreeManifest(kind: .file, entries: [.file(path: name, size: store.size(of: digest)!, digest: digest)]))
            }
            let outputs = [("good", try artifact(good, "g")), ("bad", try artifact(bad, "b")), ("gone", try artifact(gone, "l"))]
            var batch = StoreBatch()
            for (key, manifest) in outputs {
                batch.save(CacheEntryRecord(key: key, runID: "r", step: key, attemptID: "a", outputsJSON: "{\"out\":\"\(manifest.hex)\"}", createdAt: 1))
            }
            let database = try ConduitStore(path: directory + "/conduit.sqlite")
            try database.write(batch)

            // Refused while a coordinator holds the directory.
            #expect {
                try StoreVerification(dataDirectory: directory, bytesPerSecond: 1 << 30, repair: false).run { _ in }
            } throws: { ($0 as? CoordinatorError)?.code == .conflict && "\($0)".contains("running") }
            withExtendedLifetime(service) {}
        }
        let store = try BlobStore(root: directory + "/blobs")
        try Self.damageInPlace(store.path(of: bad), at: 2)
        store.remove(gone)

        var lines: [String] = []
        let check = try StoreVerification(dataDirectory: directory, bytesPerSecond: 200 << 20, repair: false).run { lines.append($0) }
        #expect(check.corrupt == [bad.hex])
        #expect(check.missing == [gone.hex])
        #expect(check.okBlobs == 4, "good and the three manifests")
        #expect(check.brokenCacheEntries == 2)
        #expect(!check.isClean)
        #expect(lines.first?.contains("verifying 5 blobs") == true, "\(lines)")
        #expect(store.contains(bad), "nothing changes without --repair")

        let repaired = try StoreVerification(dataDirectory: directory, bytesPerSecond: 200 << 20, repair: true).run { _ in }
        #expect(repaired.repaired && repaired.isClean)
        #expect(store.isQuarantined(bad))
        let entries = try ConduitStore(path: directory + "/conduit.sqlite").allCacheEntries()
        #expect(entries.map(\.key) == ["good"], "the entries that use bad blobs are dropped, so their steps run again")

        let after = try StoreVerification(dataDirectory: directory, bytesPerSecond: 200 << 20, repair: false).run { _ in }
        #expect(after.isClean && after.corrupt.isEmpty && after.missing.isEmpty)
    }

    @Test func verifyingIsBoundedByTheRate() throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-rate")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BlobStore(root: directory + "/blobs")
        try store.put([UInt8](repeating: 1, count: 2 << 20))
        let started = ContinuousClock.now
        let report = try StoreVerification(dataDirectory: directory, bytesPerSecond: 4 << 20, repair: false).run { _ in }
        #expect(report.okBlobs == 1)
        #expect(ContinuousClock.now - started >= .milliseconds(450), "2 MiB at 4 MiB/s takes half a second")
        #expect(StoreVerification.parseRate("200MiB/s") == 200 << 20)
        #expect(StoreVerification.parseRate("1.5GiB/s") == 3 << 29)
        #expect(StoreVerification.parseRate("fast") == nil)
        #expect(StoreVerification.parseRate("-1MiB/s") == nil)
    }
}
