import Artifacts
import Foundation
import Protocol
import Spec
import Store

extension CoordinatorService {
    // MARK: Blobs, for clients

    /// Whether writes or replies wait for the next commit (diagnostics and tests; reading it
    /// commits nothing).
    public var hasPendingCommit: Bool { !batch.isEmpty || !outbox.isEmpty }

    /// Commits what a burst of worker messages left pending (see `handle(_:)`) before a client
    /// is answered, so a client never sees a state that is not yet on disk.
    func makeDurable() {
        if !batch.isEmpty || !outbox.isEmpty { flushOutbox() }
    }

    /// Which of `digests` the artifact store lacks.
    public func missingBlobs(_ digests: [String]) throws -> [String] {
        try digests.filter { text in
            guard let digest = Digest(hex: text) else { throw CoordinatorError(.invalidRequest, "\(text) is not a SHA-256 digest") }
            return !blobs.contains(digest)
        }
    }

    /// The path of a stored blob, for local (embedded) readers.
    public nonisolated func blobPath(digest: String) -> String? {
        guard let digest = Digest(hex: digest), blobs.contains(digest) else { return nil }
        return blobs.path(of: digest)
    }

    /// The artifact store, for local (embedded) readers.
    public nonisolated var artifactStore: BlobStore { blobs }

    // MARK: Runs

    /// How many runs have not ended (the local service stays up while any has not).
    public var activeRunCount: Int { runs.count }

    /// The run's current state.
    ///
    /// With `detail` (the default), each step also carries its times, metrics, outputs and every
    /// attempt (one query of the run's attempts); without, only its state, as progress needs.
    public func report(runID: String, detail: Bool = true) throws -> RunReport {
        makeDurable()
        if let run = runs[runID] {
            return report(record: run.record, steps: run.plan.steps.compactMap { run.steps[$0.name] }, plan: run.plan, detail: detail)
        }
        if let finished = recentRuns[runID] {
            return report(record: finished.record, steps: finished.steps, plan: finished.plan, detail: detail)
        }
        guard let record = try store.run(id: runID) else { throw CoordinatorError(.notFound, "no run \(runID); `conduit runs` lists them") }
        return report(record: record, steps: try store.steps(runID: runID), plan: plan(runID: runID, record: record), detail: detail)
    }

    /// Waits until the run changes past `version` (or ends), at most `timeout`, then reports it
    /// without the steps' detail (progress is followed often; `report(runID:)` has the detail).
    public func waitForChange(runID: String, after version: Int64, timeout: Duration) async throws -> RunReport {
        let deadline = ContinuousClock.now + timeout
        // Cheap checks first: a report is built only once something changed.
        while self.version <= version && runs[runID] != nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        // Coalesce a burst of changes into one report: at most five a second while the run is
        // active, fewer for a big run (a report's cost grows with its steps: 0.5 ms per step, up
        // to one report a second); the end of the run is reported at once.
        let stepCount = runs[runID]?.plan.steps.count ?? 0
        let window = Duration.milliseconds(min(1000, max(200, stepCount / 2)))
        let coalesceUntil = min(deadline, ContinuousClock.now + window)
        while runs[runID] != nil && ContinuousClock.now < coalesceUntil {
            try await Task.sleep(for: .milliseconds(5))
        }
        return try report(runID: runID, detail: false)
    }

    /// The most recent runs first, without their steps' detail.
    public func listRuns(limit: Int = 50) throws -> [RunReport] {
        makeDurable()
        return try store.runs(limit: limit).map { record in
            if let run = runs[record.id] {
                return report(record: run.record, steps: run.plan.steps.compactMap { run.steps[$0.name] }, plan: run.plan, detail: false)
            }
            if let finished = recentRuns[record.id] {
                return report(record: finished.record, steps: finished.steps, plan: finished.plan, detail: false)
            }
            return report(record: record, steps: try store.steps(runID: record.id), plan: plan(runID: record.id, record: record), detail: false)
        }
    }

    /// Connected workers first, then recently seen ones.
    public func listWorkers() throws -> [WorkerReport] {
        makeDurable()
        return try store.workers().map { record in
            let live = workers[record.id]
            let capabilities = live?.capabilities
                ?? (try? JSONDecoder().decode(WorkerCapabilities.self, from: Data(record.capabilitiesJSON.utf8)))
                ?? WorkerCapabilities(cores: 0, memoryBytes: 0, slots: 0, labels: [], hostname: "")
            let usage = scheduler.workers[record.id].map { placed in
                WorkerUsage(
                    cpuMillicores: placed.usedCPU, cpuCapacityMillicores: placed.capacity.cpuMillicores, memoryBytes: placed.usedMemory,
                    attempts: placed.running.count, slots: placed.capacity.slots, leasedGPUs: placed.leasedGPUs, draining: placed.draining
                )
            }
            return WorkerReport(
                id: record.id, name: record.name, capabilities: capabilities, connected: live != nil,
                runningAttempts: live.map { Array($0.running).sorted() } ?? [], lastSeen: record.lastSeen, usage: live == nil ? nil : usage
            )
        }
    }

    /// The GPUs leased to the step's last attempt, nil when it had none.
    func gpus(of step: StepRecord, need: Requirement) -> [Int]? {
        // Only steps that ask for GPUs are given any; the others need no lookup.
        guard need.gpus > 0, let attemptID = step.logAttempt else { return nil }
        let record = attempts[attemptID]?.record ?? (try? store.attempt(id: attemptID)) ?? nil
        let devices = record?.gpuDevices?.split(separator: ",").compactMap { Int($0) } ?? []
        return devices.isEmpty ? nil : devices
    }

    /// Whether the worker's GPUs are simulated (`--simulate-gpus`): said wherever its leases show.
    func simulatedGPUs(on workerID: String) -> Bool? {
        if let live = workers[workerID] { return live.capabilities.gpus.contains(where: \.simulated) ? true : nil }
        guard let record = try? store.workers().first(where: { $0.id == workerID }),
              let capabilities = try? JSONDecoder().decode(WorkerCapabilities.self, from: Data(record.capabilitiesJSON.utf8)) else { return nil }
        return capabilities.gpus.contains(where: \.simulated) ? true : nil
    }

    static func plan(of record: RunRecord) -> PipelinePlan? {
        guard let request = try? JSONDecoder().decode(SubmitRequest.self, from: Data(record.submissionJSON.utf8)) else { return nil }
        return try? JSONDecoder().decode(PipelinePlan.self, from: Data(request.planJSON.utf8))
    }

    func report(record: RunRecord, steps: [StepRecord], plan: PipelinePlan?, detail: Bool) -> RunReport {
        let planned = runs[record.id]?.planned ?? Dictionary((plan?.steps ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let history = detail ? attemptHistory(runID: record.id) : [:]
        var sourceMetrics = SourceMetrics()
        var registrations: [String: [String]] = [:]
        if detail, planned.values.contains(where: { $0.outputs.contains { $0.asset != nil } }) {
            let events = ((try? store.events(runID: record.id)) ?? []) + batch.events.filter { $0.runID == record.id }
            for event in events where event.kind == "data_registered" || event.kind == "data_register_failed" {
                guard let step = event.step, let detail = event.detail else { continue }
                registrations[step, default: []].append(event.kind == "data_registered" ? detail : "not registered: " + detail)
            }
        }
        let stepReports = steps.map { step -> StepReport in
            var reason = step.reason
            let need = planned[step.name].map { requirement(of: $0, runID: record.id) }
            if step.status == .queued, reason == nil, let need {
                reason = dispatchPause.map { "waiting: \($0)" } ?? scheduler.waitingReason(need)
            }
            if !step.status.isFinal, let attempt = runs[record.id]?.currentAttempt[step.name], let wait = uploadWaits[attempt] {
                reason = "waiting: \(wait)"
            }
            var seconds: Double?
            if let start = step.startedAt, let end = step.finishedAt, !step.reused { seconds = Double(end - start) / 1000 }
            var report = StepReport(
                name: step.name, status: step.status, reused: step.reused, attempts: step.attempts, worker: step.worker, reason: reason, seconds: seconds,
                gpus: need.flatMap { gpus(of: step, need: $0) }
            )
            if report.gpus != nil, let worker = step.worker { report.gpusSimulated = simulatedGPUs(on: worker) }
            guard detail else { return report }
            let tries = history[step.name] ?? []
            report.attemptHistory = tries.isEmpty ? nil : tries
            report.startedAt = step.reused ? nil : tries.first?.dispatchedAt ?? step.startedAt
            report.finishedAt = step.status.isFinal ? step.finishedAt : nil
            if let start = report.startedAt, let end = report.finishedAt { report.durationSeconds = Double(end - start) / 1000 }
            report.sourceRun = step.reused ? step.sourceRun : nil
            report.metrics = metrics(of: step, sources: &sourceMetrics)
            if step.status == .completed, let json = step.outputsJSON {
                report.outputs = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))
            }
            report.registered = registrations[step.name]
            report.point = sweepPoint(of: step, planned: planned)
            return report
        }
        var outputs: [String: String] = [:]
        let byName = Dictionary(steps.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for binding in plan?.outputs ?? [] {
            guard let step = byName[binding.step], step.status == .completed,
                  let json = step.outputsJSON, let values = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)),
                  let digest = values[binding.output] else { continue }
            outputs[binding.name] = digest
        }
        return RunReport(
            run: record.id, pipeline: record.pipeline, status: record.status, steps: stepReports, outputs: outputs,
            createdAt: record.createdAt, finishedAt: record.finishedAt, reason: record.reason, version: version
        )
    }

    /// A trial's point: sampled into the plan (grid, random), or chosen when it became ready
    /// (bayesian; then in its manifest).
    func sweepPoint(of step: StepRecord, planned: [String: PlannedStep]) -> [String: String]? {
        guard let sweepName = planned[step.name]?.trialOf, let sweep = planned[sweepName]?.sweep else { return nil }
        if let point = sweep.trials.first(where: { $0.step == step.name })?.point, !point.isEmpty { return point }
        if let point = runs[step.runID]?.sweepPoints[step.name] { return point }
        guard let json = step.manifestJSON, let manifest = CacheManifest.decode(json: json) else { return nil }
        let names = Set(sweep.space.map(\.name))
        return manifest.parameters.filter { names.contains($0.key) }
    }

    /// Every attempt of a run's steps, by step, oldest first: the stored ones, with the live
    /// state of those in progress over them.
    func attemptHistory(runID: String) -> [String: [AttemptReport]] {
        var records = Dictionary(((try? store.attempts(runID: runID)) ?? []).map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        for attemptID in runs[runID]?.currentAttempt.values.map({ $0 }) ?? [] {
            if let live = attempts[attemptID]?.record { records[live.id] = live }
        }
        var byStep: [String: [AttemptReport]] = [:]
        let ordered = records.values.sorted { ($0.dispatchedAt, $0.id) < ($1.dispatchedAt, $1.id) }
        for record in ordered {
            let number = AttemptName(parsing: record.id)?.number ?? (byStep[record.step]?.count ?? 0) + 1
            var message = record.message
            if message == nil, record.status == AttemptOutcome.failed.rawValue {
                message = record.exitCode.map { "exit code \($0)" } ?? record.signal.map { "killed by signal \($0)" }
            }
            var report = AttemptReport(
                number: number, id: record.id, worker: record.worker, status: record.status, dispatchedAt: record.dispatchedAt,
                startedAt: record.startedAt, finishedAt: record.finishedAt, exitCode: record.exitCode, signal: record.signal, message: message
            )
            report.mlflowStore = record.trackingTree
            byStep[record.step, default: []].append(report)
        }
        return byStep.mapValues { $0.sorted { $0.number < $1.number } }
    }

    /// The metrics of the runs reused steps came from, read once per run while a report is built.
    struct SourceMetrics {
        var byRun: [String: [String: String]] = [:]
    }

    /// A step's last metric values; a reused step's are those its source run recorded.
    func metrics(of step: StepRecord, sources: inout SourceMetrics) -> [String: Double]? {
        var json = step.metricsJSON
        if step.reused, json == nil, let source = step.sourceRun {
            if sources.byRun[source] == nil { sources.byRun[source] = (try? store.stepMetrics(runID: source)) ?? [:] }
            json = sources.byRun[source]?[step.name]
        }
        guard let json, let values = try? JSONDecoder().decode([String: Double].self, from: Data(json.utf8)), !values.isEmpty else { return nil }
        return values
    }

    /// The pipeline outputs of a run with their artifact kinds.
    public func outputArtifacts(runID: String) throws -> [OutputArtifact] {
        makeDurable()
        let current = try report(runID: runID)
        let plan = try runs[runID]?.plan ?? recentRuns[runID]?.plan ?? store.run(id: runID).flatMap(Self.plan(of:))
        return current.outputs.keys.sorted().compactMap { name in
            guard let digest = current.outputs[name] else { return nil }
            let kind: ArtifactKind = plan?.outputs.first(where: { $0.name == name })?.type.isFile == true ? .file : .folder
            return OutputArtifact(name: name, artifact: digest, kind: kind)
        }
    }

    // MARK: Logs

    /// The log of a step's latest (or reused) attempt, or of its attempt number `attempt`, from byte
    /// `offset`, and whether more may come.
    ///
    /// Every attempt keeps its own log. An attempt number the step never reached, or one asked of a
    /// step that was reused (its attempts ran in another run), is refused naming what exists.
    public func logs(runID: String, step: String, attempt number: Int? = nil, offset: Int64) throws -> (bytes: [UInt8], finished: Bool) {
        makeDurable()
        let record: StepRecord
        if let live = runs[runID]?.steps[step] {
            record = live
        } else if let stored = try store.step(runID: runID, name: step) {
            record = stored
        } else {
            guard try store.run(id: runID) != nil else { throw CoordinatorError(.notFound, "no run \(runID); `conduit runs` lists them") }
            let names = try stepRecords(runID: runID).map(\.name).joined(separator: ", ")
            throw CoordinatorError(.notFound, "run \(runID) has no step \(step); its steps are \(names)")
        }
        var finished = record.status.isFinal
        var chosen = record.logAttempt
        if let number {
            let numbered = try attemptID(of: record, runID: runID, number: number)
            chosen = numbered
            if runs[runID]?.currentAttempt[step] != numbered { finished = true }
        }
        guard let attempt = chosen, let handle = FileHandle(forReadingAtPath: logPath(attemptID: attempt)) else {
            return ([], finished)
        }
        defer { try? handle.close() }
        // An offset at or past the end (a client that has read everything) reads nothing, without seeking.
        let start = UInt64(max(0, offset))
        guard start < (try handle.seekToEnd()) else { return ([], finished) }
        try handle.seek(toOffset: start)
        let data = try handle.readToEnd() ?? Data()
        return (Array(data), finished)
    }

    /// The id of attempt `number` of a step, or an error naming the attempts it has.
    func attemptID(of step: StepRecord, runID: String, number: Int) throws -> String {
        if step.reused, let source = step.sourceRun {
            throw CoordinatorError(
                .notFound,
                "step \(step.name) of run \(runID) was reused from run \(source) and ran no attempt in this run; "
                    + "see `conduit logs \(source) \(step.name) --attempt \(number)`")
        }
        guard step.attempts > 0 else {
            throw CoordinatorError(.notFound, "step \(step.name) of run \(runID) has not run any attempt (it is \(step.status.rawValue))")
        }
        guard (1...step.attempts).contains(number) else {
            let range = step.attempts == 1 ? "attempt 1 only" : "attempts 1 to \(step.attempts)"
            throw CoordinatorError(.notFound, "step \(step.name) of run \(runID) has no attempt \(number); it has \(range)")
        }
        return AttemptName(runID: runID, position: step.position, number: number).text
    }

    // MARK: Explain

    /// Why a step ran or was reused; for a miss, how its manifest differs from the nearest
    /// earlier execution of the same step (`NearestExecution`: the fewest differing fields among
    /// the latest `NearestExecution.candidateLimit`, ties to the latest).
    public func explain(runID: String, step name: String) throws -> Explanation {
        makeDurable()
        guard let record = try runs[runID].map({ $0.record }) ?? store.run(id: runID) else {
            throw CoordinatorError(.notFound, "no run \(runID)")
        }
        guard let step = try runs[runID]?.steps[name] ?? store.step(runID: runID, name: name) else {
            let names = try store.steps(runID: runID).map(\.name).joined(separator: ", ")
            throw CoordinatorError(.notFound, "run \(runID) has no step \(name); its steps are \(names)")
        }
        let planned = Self.plan(of: record)?.steps.first { $0.name == name }
        let component = planned?.component
        if planned?.isSweep == true {
            return Explanation(
                run: runID, step: name, decision: "sweep",
                summary: step.reason ?? "a sweep step chooses the best of its trials once every trial has ended (now \(step.status.rawValue)); explain a trial (\(name)/trial_N) to see why it ran",
                differences: [], comparedRun: nil, cacheKey: nil
            )
        }
        // The registered component `run`'s step ran, when it differs from this one's.
        func componentChange(since run: RunRecord?) -> [String] {
            guard let run, let earlier = Self.plan(of: run)?.steps.first(where: { $0.name == name }) else { return [] }
            return ComponentChange.describe(earlier: earlier.component, current: component).map { [$0] } ?? []
        }
        if step.reused {
            let changes = try componentChange(since: step.sourceRun.flatMap { try store.run(id: $0) })
            return Explanation(
                run: runID, step: name, decision: "reused",
                summary: "reused the outputs of run \(step.sourceRun ?? "?"): command, code, environment, parameters and input contents are unchanged"
                    + (changes.isEmpty ? "" : " (the registered component version differs, with identical content)"),
                differences: changes, comparedRun: step.sourceRun, cacheKey: step.cacheKey
            )
        }
        guard let json = step.manifestJSON, let manifest = CacheManifest.decode(json: json) else {
            return Explanation(
                run: runID, step: name, decision: "not run",
                summary: step.reason ?? "the step never became ready (status \(step.status.rawValue))",
                differences: [], comparedRun: nil, cacheKey: nil
            )
        }
        var summary = step.reason ?? "ran"
        var differences: [String] = []
        var compared: String?
        let candidates = earlierExecutions(pipeline: record.pipeline, step: name, before: runID, createdBefore: record.createdAt)
        if let nearest = NearestExecution.choose(for: manifest, among: candidates) {
            compared = nearest.run
            differences = try componentChange(since: store.run(id: nearest.run)) + nearest.differences
            if step.reason == nil {
                summary = differences.isEmpty
                    ? "ran: nothing differs from run \(nearest.run), but its outputs were not available for reuse"
                    : "ran: \(differences.count) field\(differences.count == 1 ? "" : "s") differ from run \(nearest.run)"
            }
        } else if step.reason == nil {
            summary = "ran: no earlier execution of step \(name) was recorded"
        }
        return Explanation(run: runID, step: name, decision: "ran", summary: summary, differences: differences, comparedRun: compared, cacheKey: step.cacheKey)
    }
}

extension CoordinatorService {
    /// The run's DAG (steps in plan order and the edges between them), without a layout: what the
    /// studio draws (`GET /v1/runs/{id}/graph`).
    public func graph(runID: String) throws -> RunGraph {
        makeDurable()
        guard let record = try runs[runID]?.record ?? recentRuns[runID]?.record ?? store.run(id: runID) else {
            throw CoordinatorError(.notFound, "no run \(runID); `conduit runs` lists them")
        }
        guard let plan = plan(runID: runID, record: record) else {
            throw CoordinatorError(.storage, "run \(runID): its recorded plan does not decode")
        }
        var index: [String: Int] = [:]
        for (position, step) in plan.steps.enumerated() { index[step.name] = position }
        var edges: [[Int]] = []
        for (position, step) in plan.steps.enumerated() {
            for upstream in step.upstreamSteps {
                if let from = index[upstream] { edges.append([from, position]) }
            }
        }
        return RunGraph(run: runID, pipeline: plan.name, steps: plan.steps.map(\.name), edges: edges)
    }
}
