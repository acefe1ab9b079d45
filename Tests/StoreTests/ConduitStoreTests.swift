import Foundation
import Protocol
import Store
import Testing

@Suite struct ConduitStoreTests {
    /// Records a new run the way the coordinator does: in a batch.
    func insert(_ run: RunRecord, steps: [StepRecord], into store: ConduitStore) throws {
        var batch = StoreBatch()
        batch.insert(run, steps: steps)
        try store.write(batch)
    }

    func run(_ id: String, pipeline: String = "p", createdAt: Int64, status: RunStatus = .running) -> RunRecord {
        RunRecord(id: id, pipeline: pipeline, status: status, submissionJSON: "{}", createdAt: createdAt)
    }

    @Test func runsStepsAndAttemptsRoundTrip() throws {
        let store = try ConduitStore()
        var prep = StepRecord(runID: "r1", name: "prep", position: 0, status: .waiting)
        let train = StepRecord(runID: "r1", name: "fast/train", position: 1, status: .waiting)
        try insert(run("r1", createdAt: 10), steps: [prep, train], into: store)
        #expect(try store.steps(runID: "r1").map(\.name) == ["prep", "fast/train"])
        prep.status = .running
        prep.attempts = 1
        var attempt = AttemptRecord(id: "r1-0-1", runID: "r1", step: "prep", worker: "w1", status: "dispatched", dispatchedAt: 11)
        attempt.gpuDevices = "0,1"
        attempt.workerIdentity = "key:rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        var batch = StoreBatch()
        batch.update(prep)
        batch.save(attempt)
        try store.write(batch)
        #expect(try store.step(runID: "r1", name: "prep")?.status == .running)
        #expect(try store.attempts(runID: "r1", step: "prep") == [attempt])
        #expect(try store.events(runID: "r1").map(\.kind) == ["submitted"])
    }

    @Test func stepMetricsNamesOnlyTheStepsThatRecordedSome() throws {
        let store = try ConduitStore()
        var train = StepRecord(runID: "r1", name: "fast/train", position: 0, status: .completed)
        train.metricsJSON = #"{"loss":0.25}"#
        let prep = StepRecord(runID: "r1", name: "prep", position: 1, status: .completed)
        var other = StepRecord(runID: "r2", name: "fast/train", position: 0, status: .completed)
        other.metricsJSON = #"{"loss":9}"#
        try insert(run("r1", createdAt: 1), steps: [train, prep], into: store)
        try insert(run("r2", createdAt: 2), steps: [other], into: store)
        #expect(try store.stepMetrics(runID: "r1") == ["fast/train": #"{"loss":0.25}"#])
        #expect(try store.stepMetrics(runID: "r3").isEmpty)
    }

    @Test func aBatchRecordsTheStepArtifactsAndCacheEntryTogether() throws {
        let store = try ConduitStore()
        var step = StepRecord(runID: "r1", name: "train", position: 0, status: .running)
        try insert(run("r1", createdAt: 1), steps: [step], into: store)
        step.status = .completed
        step.outputsJSON = #"{"model":"abc"}"#
        step.cacheKey = "k1"
        let artifact = ArtifactRecord(digest: "abc", kind: "folder", size: 3, createdAt: 2)
        let entry = CacheEntryRecord(key: "k1", runID: "r1", step: "train", attemptID: "a1", outputsJSON: step.outputsJSON!, createdAt: 2)
        var batch = StoreBatch()
        batch.update(step)
        batch.insert(artifact)
        batch.save(entry)
        #expect(batch.isUrgent)
        try store.write(batch)
        // Recording the same artifact again (another step produced identical bytes) is fine.
        var again = StoreBatch()
        again.insert(artifact)
        try store.write(again)
        #expect(try store.step(runID: "r1", name: "train")?.status == .completed)
        #expect(try store.cacheEntry(key: "k1") == entry)
        try store.deleteCacheEntry(key: "k1")
        #expect(try store.cacheEntry(key: "k1") == nil)
    }

    @Test func earlierExecutionsAreOfTheSamePipelineLatestFirstAndBounded() throws {
        let store = try ConduitStore()
        for (id, pipeline, created) in [("old", "p", 1), ("other", "q", 5), ("recent", "p", 3), ("current", "p", 9)] as [(String, String, Int64)] {
            var step = StepRecord(runID: id, name: "train", position: 0, status: .completed)
            step.manifestJSON = #"{"run":"\#(id)"}"#
            try insert(run(id, pipeline: pipeline, createdAt: created), steps: [step], into: store)
        }
        let found = try store.earlierExecutions(pipeline: "p", step: "train", before: "current", createdBefore: 9, limit: 200)
        #expect(found.map(\.run) == ["recent", "old"])
        #expect(found.first?.manifestJSON == #"{"run":"recent"}"#)
        let bounded = try store.earlierExecutions(pipeline: "p", step: "train", before: "current", createdBefore: 9, limit: 1)
        #expect(bounded.map(\.run) == ["recent"])
        let elsewhere = try store.earlierExecutions(pipeline: "z", step: "train", before: "current", createdBefore: 9, limit: 200)
        #expect(elsewhere.map(\.run) == ["other", "recent", "old"])
        #expect(try store.earlierExecutions(pipeline: "p", step: "evaluate", before: "current", createdBefore: 9, limit: 200).isEmpty)
    }

    @Test func unfinishedRunsAreFoundAfterAReopen() throws {
        let directory = NSTemporaryDirectory() + "conduit-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try ConduitStore(path: directory + "/db.sqlite")
            try insert(run("a", createdAt: 1), steps: [], into: store)
            try insert(run("b", createdAt: 2, status: .completed), steps: [], into: store)
        }
        let reopened = try ConduitStore(path: directory + "/db.sqlite")
        #expect(try reopened.unfinishedRuns().map(\.id) == ["a"])
        #expect(try reopened.runs(limit: 10).map(\.id) == ["b", "a"])
    }

    @Test func everyCommitIsSynced() throws {
        let directory = NSTemporaryDirectory() + "conduit-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ConduitStore(path: directory + "/db.sqlite")
        // 2 is FULL. Opening a WAL pool sets NORMAL (1), which syncs only at checkpoints and can
        // lose acknowledged commits on power loss.
        #expect(try store.synchronousMode() == 2)
        #expect(try store.journalMode() == "wal")
    }

    @Test func progressNotesAloneAreNotUrgent() {
        var batch = StoreBatch()
        #expect(batch.isEmpty)
        batch.save(AttemptRecord(id: "a", runID: "r", step: "s", worker: "w", status: "running", dispatchedAt: 0), urgent: false)
        #expect(!batch.isEmpty && !batch.isUrgent)
        batch.update(StepRecord(runID: "r", name: "s", position: 0, status: .running))
        #expect(batch.isUrgent)
    }

    @Test func aNewRunInABatchIsInsertedInItsLatestState() throws {
        let store = try ConduitStore()
        var batch = StoreBatch()
        var run = run("r9", createdAt: 5)
        let steps = (0..<3).map { StepRecord(runID: "r9", name: "s\($0)", position: $0, status: .waiting) }
        batch.insert(run, steps: steps)
        var done = steps[1]
        done.status = .completed
        done.reused = true
        batch.update(done)
        run.status = .completed
        batch.update(run)
        try store.write(batch)
        #expect(try store.run(id: "r9")?.status == .completed)
        #expect(try store.steps(runID: "r9").map(\.status) == [.waiting, .completed, .waiting])
        #expect(try store.step(runID: "r9", name: "s1")?.reused == true)
        #expect(try store.events(runID: "r9").map(\.kind) == ["submitted"])
    }
}

@Suite struct WorkerKeyStoreTests {
    @Test func keysAreAllowedRevokedAndAllowedAgain() throws {
        let store = try ConduitStore()
        let key = String(repeating: "k", count: 40)
        try store.saveWorkerKey(WorkerKeyRecord(publicKey: key, name: "gpu-1", addedAt: 5))
        #expect(try store.workerKeys() == [WorkerKeyRecord(publicKey: key, name: "gpu-1", addedAt: 5)])
        #expect(try store.revokeWorkerKey(key, at: 9)?.revokedAt == 9)
        #expect(try store.revokeWorkerKey(key, at: 12)?.revokedAt == 9, "revoking twice keeps the first time")
        #expect(try store.revokeWorkerKey("unknown", at: 9) == nil)
        try store.saveWorkerKey(WorkerKeyRecord(publicKey: key, name: "gpu-1b", addedAt: 20))
        #expect(try store.workerKeys().map(\.revokedAt) == [nil])
        #expect(try store.workerKeys().map(\.name) == ["gpu-1b"])
    }
}
