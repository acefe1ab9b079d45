import GRDB
import Protocol

extension ConduitStore {
    // MARK: Registered outputs and lineage

    /// Every data asset runs registered, oldest first.
    public func outputAssets() throws -> [OutputAsset] {
        try writer.read { db in
            try OutputAssetRecord.order(Column("created_at"), Column("rowid")).fetchAll(db).map(\.asset)
        }
    }

    /// The steps, in any run, whose cache manifest names `digest` (an input's content or their
    /// code), with their runs, oldest run first; at most `limit`. Manifests are canonical JSON, so
    /// a digest appears there as `"digest":"HEX"`; the caller checks which field it was.
    public func stepsNaming(digest: String, limit: Int) throws -> [(StepRecord, RunRecord)] {
        try writer.read { db in
            let steps = try StepRecord.fetchAll(
                db, sql: """
                    SELECT steps.* FROM steps JOIN runs ON runs.id = steps.run_id
                    WHERE steps.manifest_json LIKE ? ORDER BY runs.created_at, steps.position LIMIT ?
                    """,
                arguments: ["%\"digest\":\"\(digest)\"%", limit]
            )
            var runs: [String: RunRecord] = [:]
            var found: [(StepRecord, RunRecord)] = []
            for step in steps {
                if runs[step.runID] == nil { runs[step.runID] = try RunRecord.fetchOne(db, key: step.runID) }
                if let run = runs[step.runID] { found.append((step, run)) }
            }
            return found
        }
    }
}
