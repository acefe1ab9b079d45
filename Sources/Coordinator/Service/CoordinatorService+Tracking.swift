import Foundation
import Protocol
import Store

/// The history of what steps tracked: `GET /v1/runs/{id}/metrics`, `conduit metrics`.
extension CoordinatorService {
    /// The metric values (after `after`), params and tags of a run's steps, or of one step. A
    /// reused step's history is the run's it reused (sent only when `after` is 0: it never grows).
    public func metricHistory(runID: String, step: String? = nil, after: Int64 = 0) throws -> MetricHistoryReport {
        let run = try report(runID: runID, detail: false)
        if let step, !run.steps.contains(where: { $0.name == step }) {
            throw CoordinatorError(.notFound, "run \(runID) has no step \(step); its steps are \(run.steps.map(\.name).joined(separator: ", "))")
        }
        let records = try store.metricPoints(runID: runID, step: step, after: after, limit: Self.metricPointsPerAnswer)
        var points = records.map { Self.point($0, sourceRun: nil) }
        var values = try store.trackedValues(runID: runID, step: step)
        var sources: [String: String] = [:]  // values' attempt ids → the run they came from
        if after == 0 {
            for reused in run.steps where reused.reused && (step == nil || reused.name == step) {
                guard let source = try store.step(runID: runID, name: reused.name)?.sourceRun else { continue }
                // A reused step's history comes whole with the first answer (up to 1,000,000 values).
                points += try store.metricPoints(runID: source, step: reused.name, limit: 1_000_000).map { Self.point($0, sourceRun: source) }
                let theirs = try store.trackedValues(runID: source, step: reused.name)
                for value in theirs { sources[value.attemptID] = source }
                values += theirs
            }
        }
        func tracked(_ kind: String) -> [StepTrackedValue] {
            values.filter { $0.kind == kind }.map {
                StepTrackedValue(
                    step: $0.step, attempt: AttemptName(parsing: $0.attemptID)?.number ?? 0, mlflowRun: $0.mlflowRun.isEmpty ? nil : $0.mlflowRun,
                    key: $0.key, value: $0.value, sourceRun: sources[$0.attemptID]
                )
            }
        }
        return MetricHistoryReport(
            run: runID, status: run.status, points: points, params: tracked("param"), tags: tracked("tag"),
            last: records.last?.seq ?? after, more: records.count == Self.metricPointsPerAnswer
        )
    }

    /// The most values of a run one metrics answer holds; `more` says when there are others.
    static let metricPointsPerAnswer = 50_000

    static func point(_ record: MetricPointRecord, sourceRun: String?) -> StepMetricPoint {
        StepMetricPoint(
            step: record.step, attempt: AttemptName(parsing: record.attemptID)?.number ?? 0, mlflowRun: record.mlflowRun.isEmpty ? nil : record.mlflowRun,
            key: record.key, stepIndex: record.stepIndex, timestamp: record.timestamp, value: record.value, sourceRun: sourceRun
        )
    }
}

extension CoordinatorService {
    /// The most recent runs a filtered or sorted listing looks through.
    static let runSearchScope = 10_000

    /// `conduit runs --filter ... --sort ...`: the newest `scope` runs that match `filter`, in the
    /// order of `sort` (see `RunQuery`), at most `limit` of them. Without either, `listRuns`.
    public func searchRuns(limit: Int, filter: String?, sort: String?) throws -> [RunReport] {
        let query: RunQuery
        do {
            query = try RunQuery(filter: filter, sort: sort)
        } catch {
            throw CoordinatorError(.invalidRequest, error.message)
        }
        if query.clauses.isEmpty && query.sortField == .created && query.descending { return try listRuns(limit: limit) }
        makeDurable()
        let needsParams = query.clauses.contains { if case .param = $0.field { true } else { false } }
        var sources = SourceMetrics()
        var candidates: [(record: RunRecord, steps: [StepRecord], candidate: RunQuery.Candidate)] = []
        for record in try store.runs(limit: Self.runSearchScope) {
            var metrics: [String: Double] = [:]
            let steps = try store.steps(runID: record.id).sorted { $0.position < $1.position }
            // A metric several steps logged: the last step's (in plan order) value.
            for step in steps { metrics.merge(self.metrics(of: step, sources: &sources) ?? [:]) { _, later in later } }
            var params: [String: String] = [:]
            if needsParams {
                for value in try store.trackedValues(runID: record.id) where value.kind == "param" { params[value.key] = value.value }
            }
            let candidate = RunQuery.Candidate(metrics: metrics, params: params, status: record.status.rawValue, pipeline: record.pipeline, createdAt: record.createdAt)
            if query.matches(candidate) { candidates.append((record, steps, candidate)) }
        }
        candidates.sort { query.precedes($0.candidate, $1.candidate) }
        return try candidates.prefix(max(0, limit)).map { entry in
            // With the steps' metrics: the listing shows the values it was sorted or filtered by.
            report(record: entry.record, steps: entry.steps, plan: plan(runID: entry.record.id, record: entry.record), detail: true)
        }
    }
}
