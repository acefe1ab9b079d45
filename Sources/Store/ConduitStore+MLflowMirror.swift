import GRDB

/// What the mirror to a user's MLflow server reads and remembers.
extension ConduitStore {
    /// Attempts whose mirroring is not finished (never started, or their MLflow run not ended), oldest
    /// first, each with what was already sent; at most `limit`.
    public func attemptsToMirror(limit: Int) throws -> [(attempt: AttemptRecord, mirrored: MLflowMirrorRecord?)] {
        try writer.read { db in
            let attempts = try AttemptRecord.fetchAll(db, sql: """
                SELECT attempts.* FROM attempts LEFT JOIN mlflow_mirror ON mlflow_mirror.attempt_id = attempts.id
                WHERE mlflow_mirror.attempt_id IS NULL OR mlflow_mirror.ended = 0
                ORDER BY attempts.dispatched_at, attempts.id LIMIT ?
                """, arguments: [limit])
            return try attempts.map { ($0, try MLflowMirrorRecord.fetchOne(db, key: $0.id)) }
        }
    }

    /// How many attempts are not fully mirrored yet.
    public func attemptsBehindMirror() throws -> Int {
        try writer.read { db in
            try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM attempts LEFT JOIN mlflow_mirror ON mlflow_mirror.attempt_id = attempts.id
                WHERE mlflow_mirror.attempt_id IS NULL OR mlflow_mirror.ended = 0
                """) ?? 0
        }
    }

    /// An attempt's metric values recorded after `seq`, in order; at most `limit`.
    public func metricPoints(attemptID: String, after seq: Int64, limit: Int) throws -> [MetricPointRecord] {
        try writer.read { db in
            try MetricPointRecord.fetchAll(
                db, sql: "SELECT * FROM metric_points WHERE attempt_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [attemptID, seq, limit])
        }
    }

    /// An attempt's params and tags (the latest value of each).
    public func trackedValues(attemptID: String) throws -> [TrackedValueRecord] {
        try writer.read { db in
            try TrackedValueRecord.fetchAll(db, sql: "SELECT * FROM tracked_values WHERE attempt_id = ? ORDER BY kind, mlflow_run, key", arguments: [attemptID])
        }
    }

    /// Remembers how far an attempt was mirrored.
    public func saveMirror(_ record: MLflowMirrorRecord) throws {
        try writer.write { db in try record.save(db) }
    }
}
