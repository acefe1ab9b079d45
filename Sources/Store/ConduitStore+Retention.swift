import GRDB
import Protocol

/// What the rows of a data directory refer to, read at once for `conduit runs prune`.
public struct RetentionSnapshot: Sendable {
    /// One run's identity and times.
    public struct Run: Sendable, Hashable {
        public var id: String
        public var pipeline: String
        public var status: RunStatus
        public var createdAt: Int64
        public var finishedAt: Int64?
    }

    /// Every run.
    public var runs: [Run] = []
    /// Run id → the texts of its rows that name blobs: the submission, each step's outputs and
    /// cache manifest, each attempt's MLflow store.
    public var referenceTexts: [String: [String]] = [:]
    /// Run id → its attempts' ids.
    public var attemptIDs: [String: [String]] = [:]
    /// Run id → how many metric values its attempts recorded.
    public var metricPoints: [String: Int] = [:]
    /// Every cache entry.
    public var cacheEntries: [CacheEntryRecord] = []
}

/// How many rows a prune deleted.
public struct RetentionDeletion: Sendable, Hashable {
    public var runs = 0
    public var cacheEntries = 0
    public var artifacts = 0
}

extension ConduitStore {
    /// Reads, in one transaction, what ``RetentionSnapshot`` holds.
    public func retentionSnapshot() throws -> RetentionSnapshot {
        try writer.read { db in
            var snapshot = RetentionSnapshot()
            for row in try Row.fetchAll(db, sql: "SELECT id, pipeline, status, created_at, finished_at, submission_json FROM runs") {
                let id: String = row["id"]
                let statusText: String = row["status"]
                let status = RunStatus(rawValue: statusText) ?? .running  // an unknown status is never pruned
                snapshot.runs.append(.init(id: id, pipeline: row["pipeline"], status: status, createdAt: row["created_at"], finishedAt: row["finished_at"]))
                let submission: String = row["submission_json"]
                snapshot.referenceTexts[id, default: []].append(submission)
            }
            for row in try Row.fetchAll(db, sql: "SELECT run_id, outputs_json, manifest_json FROM steps WHERE outputs_json IS NOT NULL OR manifest_json IS NOT NULL") {
                let id: String = row["run_id"]
                if let outputs: String = row["outputs_json"] { snapshot.referenceTexts[id, default: []].append(outputs) }
                if let manifest: String = row["manifest_json"] { snapshot.referenceTexts[id, default: []].append(manifest) }
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, run_id, tracking_tree FROM attempts") {
                let runID: String = row["run_id"]
                let attemptID: String = row["id"]
                snapshot.attemptIDs[runID, default: []].append(attemptID)
                if let tree: String = row["tracking_tree"] { snapshot.referenceTexts[runID, default: []].append(tree) }
            }
            for row in try Row.fetchAll(db, sql: "SELECT run_id, COUNT(*) AS n FROM metric_points GROUP BY run_id") {
                let runID: String = row["run_id"]
                let count: Int = row["n"]
                snapshot.metricPoints[runID] = count
            }
            snapshot.cacheEntries = try CacheEntryRecord.fetchAll(db)
            return snapshot
        }
    }

    /// Deletes, in one transaction, the runs `runIDs` with their steps, attempts, events, metric
    /// values, params and tags; the cache entries `cacheKeys`; and the `artifacts` rows of
    /// `artifactDigests`.
    @discardableResult
    public func prune(runIDs: [String], cacheKeys: [String], artifactDigests: [String]) throws -> RetentionDeletion {
        try writer.write { db in
            var deletion = RetentionDeletion()
            for chunk in Self.chunks(of: runIDs) {
                let marks = Self.placeholders(chunk.count)
                let arguments = StatementArguments(chunk)
                for table in ["events", "metric_points", "tracked_values", "steps", "attempts"] {
                    try db.execute(sql: "DELETE FROM \(table) WHERE run_id IN (\(marks))", arguments: arguments)
                }
                try db.execute(sql: "DELETE FROM runs WHERE id IN (\(marks))", arguments: arguments)
                deletion.runs += db.changesCount
            }
            for chunk in Self.chunks(of: cacheKeys) {
                try db.execute(sql: "DELETE FROM cache_entries WHERE key IN (\(Self.placeholders(chunk.count)))", arguments: StatementArguments(chunk))
                deletion.cacheEntries += db.changesCount
            }
            for chunk in Self.chunks(of: artifactDigests) {
                try db.execute(sql: "DELETE FROM artifacts WHERE digest IN (\(Self.placeholders(chunk.count)))", arguments: StatementArguments(chunk))
                deletion.artifacts += db.changesCount
            }
            return deletion
        }
    }

    /// Slices of at most 500 values, well under SQLite's limit on bound parameters.
    private static func chunks(of values: [String]) -> [ArraySlice<String>] {
        stride(from: 0, to: values.count, by: 500).map { values[$0..<min($0 + 500, values.count)] }
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}
