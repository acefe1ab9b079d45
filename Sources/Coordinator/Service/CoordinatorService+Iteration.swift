import Artifacts
import Foundation
import Protocol
import Spec
import Store

extension CoordinatorService {
    // MARK: Dry run

    /// What `request.submission` would run and reuse, and why. Records nothing: no run, no
    /// cache entry; blobs are only read.
    public func dryRun(_ request: DryRunRequest) throws -> DryRunReport {
        try dryRun(request, plan: try decodedPlan(of: request.submission))
    }

    /// A dry run of a submission whose plan the caller has already decoded. `datastoreReads` is what
    /// the datastore paths its inputs read hold now (see `checkingDatastoreInputs`).
    public func dryRun(
        _ request: DryRunRequest, plan: PipelinePlan, datastoreReads: [String: DryRunPlanner.DatastoreRead] = [:]
    ) throws -> DryRunReport {
        makeDurable()
        try Self.checkStructure(of: plan)
        let submission = request.submission
        let names = Set(plan.steps.map(\.name))
        for forced in submission.force where !names.contains(forced) {
            throw CoordinatorError(.invalidRequest, "--force \(forced): no such step; steps are \(plan.steps.map(\.name).joined(separator: ", "))")
        }
        var code: [String: CacheManifest.Code] = [:]
        for (step, digest) in submission.code {
            if let text = request.codeManifests[digest] {
                let manifest: TreeManifest
                do {
                    manifest = try TreeManifest.parse(canonicalText: text)
                } catch {
                    throw CoordinatorError(.invalidRequest, "code of step \(step): the manifest sent for \(digest) does not parse: \(error)")
                }
                guard manifest.digest.hex == digest else {
                    throw CoordinatorError(.invalidRequest, "code of step \(step): the manifest sent has digest \(manifest.digest.hex), not \(digest)")
                }
                code[step] = Self.code(of: manifest, digest: digest)
            } else {
                code[step] = try codeSnapshot(digest: digest, step: step)
            }
        }
        let planner = DryRunPlanner(
            plan: plan, localInputs: submission.localInputs, code: code, force: Set(submission.force), datastoreReads: datastoreReads)
        let view = ServiceCacheView(
            lookup: { key, step in self.peekCache(key: key, step: step) },
            earlier: { name in self.earlierExecutions(pipeline: plan.name, step: name) }
        )
        return planner.decide(using: view)
    }

    static func code(of manifest: TreeManifest, digest: String) -> CacheManifest.Code {
        var files: [String: String] = [:]
        for entry in manifest.entries {
            if let blob = entry.digest { files[entry.path] = blob.hex }
        }
        return CacheManifest.Code(digest: digest, files: files)
    }

    /// The cache's answer for `key`, as `resolveCache` would find it, changing nothing stored.
    func peekCache(key: String, step: PlannedStep) -> DryRunPlanner.CacheLookup {
        let entry: CacheEntryRecord
        let outputs: [String: String]
        if let known = recentCacheEntries[key] {
            (entry, outputs) = known
        } else {
            guard let stored = (try? batch.cacheEntries.last(where: { $0.key == key }) ?? store.cacheEntry(key: key)) ?? nil else { return .miss }
            entry = stored
            outputs = (try? JSONDecoder().decode([String: String].self, from: Data(stored.outputsJSON.utf8))) ?? [:]
        }
        if let problem = verify(outputs: outputs, expected: step.outputs.map(\.name)) {
            return .notIntact(run: entry.runID, problem: problem)
        }
        return .hit(run: entry.runID, outputs: outputs)
    }

    /// The latest completed executions of `step` (at most `NearestExecution.candidateLimit`), in
    /// runs of `pipeline` when there are any, in runs created at or before `createdBefore` other
    /// than `runID`: what `NearestExecution` chooses from. A manifest that does not decode is skipped.
    func earlierExecutions(
        pipeline: String, step: String, before runID: String = "", createdBefore: Int64 = .max
    ) -> [NearestExecution.Candidate] {
        let rows = (try? store.earlierExecutions(
            pipeline: pipeline, step: step, before: runID, createdBefore: createdBefore, limit: NearestExecution.candidateLimit
        )) ?? []
        return rows.compactMap { row in
            CacheManifest.decode(json: row.manifestJSON).map { NearestExecution.Candidate(run: row.run, manifest: $0) }
        }
    }

    // MARK: Rerun

    /// Submits a finished run again from what it recorded (plan, code, local data), forcing
    /// `request.from` and its downstream steps; or, with `dryRun`, says what that would do.
    public func rerun(runID: String, request: RerunRequest) throws -> RerunResponse {
        makeDurable()
        guard let record = try runs[runID]?.record ?? store.run(id: runID) else {
            throw CoordinatorError(.notFound, "no run \(runID); `conduit runs` lists them")
        }
        guard record.status.isFinal else {
            throw CoordinatorError(.conflict, "run \(runID) is still \(record.status.rawValue); wait for it to end, or cancel it with `conduit cancel \(runID)`")
        }
        guard let submission = try? JSONDecoder().decode(SubmitRequest.self, from: Data(record.submissionJSON.utf8)),
              let plan = plan(runID: runID, record: record) else {
            throw CoordinatorError(.storage, "run \(runID): its recorded submission does not decode, so it cannot be re-run")
        }
        var forced: [String] = []
        if let from = request.from {
            guard let selection = RerunSelection.forced(from: from, in: plan) else {
                throw CoordinatorError(.notFound, "run \(runID) has no step \(from); its steps are \(plan.steps.map(\.name).joined(separator: ", "))")
            }
            forced = selection
        }
        let again = SubmitRequest(planJSON: submission.planJSON, localInputs: submission.localInputs, code: submission.code, force: forced)
        if request.dryRun {
            return RerunResponse(run: nil, plan: try dryRun(DryRunRequest(submission: again), plan: plan), forced: forced)
        }
        let newRun = try submit(again, plan: plan)
        logger.info("run re-submitted", metadata: ["run": "\(newRun)", "from": "\(runID)", "forced": "\(forced.joined(separator: ","))"])
        return RerunResponse(run: newRun, plan: nil, forced: forced)
    }

    // MARK: Diff

    /// How run `b` differs from run `a`, step by step.
    public func diff(runA a: String, runB b: String) throws -> RunDiffReport {
        makeDurable()
        return RunDiff.compare(a: a, steps: try stepFacts(runID: a), b: b, steps: try stepFacts(runID: b))
    }

    /// The step records of a run in plan order.
    func stepRecords(runID: String) throws -> [StepRecord] {
        if let run = runs[runID] { return run.plan.steps.compactMap { run.steps[$0.name] } }
        if let finished = recentRuns[runID] { return finished.steps }
        guard try store.run(id: runID) != nil else { throw CoordinatorError(.notFound, "no run \(runID); `conduit runs` lists them") }
        return try store.steps(runID: runID)
    }

    func stepFacts(runID: String) throws -> [RunDiff.StepFacts] {
        let decoder = JSONDecoder()
        return try stepRecords(runID: runID).map { record in
            var metricsJSON = record.metricsJSON
            // A reused step ran elsewhere: its metrics are those of the run it reused.
            if record.reused, metricsJSON == nil, let source = record.sourceRun {
                metricsJSON = (try? store.step(runID: source, name: record.name))??.metricsJSON
            }
            return RunDiff.StepFacts(
                name: record.name, status: record.status, reused: record.reused, sourceRun: record.sourceRun,
                manifest: record.manifestJSON.flatMap(CacheManifest.decode(json:)),
                outputs: record.outputsJSON.flatMap { try? decoder.decode([String: String].self, from: Data($0.utf8)) },
                metrics: metricsJSON.flatMap { try? decoder.decode([String: Double].self, from: Data($0.utf8)) } ?? [:]
            )
        }
    }

    // MARK: Step detail

    /// What a step of a run ran with (its planned step, code and input artifacts) and the
    /// outputs it recorded: what `conduit step run --local` replays.
    public func stepDetail(runID: String, step name: String) throws -> StepDetail {
        makeDurable()
        guard let record = try runs[runID]?.record ?? store.run(id: runID) else {
            throw CoordinatorError(.notFound, "no run \(runID); `conduit runs` lists them")
        }
        guard let plan = plan(runID: runID, record: record) else {
            throw CoordinatorError(.storage, "run \(runID): its recorded plan does not decode")
        }
        guard var planned = plan.steps.first(where: { $0.name == name }),
              let step = try stepRecords(runID: runID).first(where: { $0.name == name }) else {
            throw CoordinatorError(.notFound, "run \(runID) has no step \(name); its steps are \(plan.steps.map(\.name).joined(separator: ", "))")
        }
        guard let json = step.manifestJSON, let manifest = CacheManifest.decode(json: json) else {
            throw CoordinatorError(
                .conflict,
                "step \(name) of run \(runID) never became ready (it is \(step.status.rawValue)), so its inputs were never resolved; there is nothing to replay"
            )
        }
        if planned.isSweep {
            throw CoordinatorError(.conflict, "step \(name) is a sweep step, which runs no command of its own; replay one of its trials (\(name)/trial_N)")
        }
        // A bayesian trial ran the point chosen for it, which its manifest records.
        if let sweepName = planned.trialOf, let shape = plan.steps.first(where: { $0.name == sweepName })?.sweep?.trialCommand {
            let names = Set(plan.steps.first { $0.name == sweepName }?.sweep?.space.map(\.name) ?? [])
            planned = try planned.withSweepPoint(manifest.parameters.filter { names.contains($0.key) }, shape: shape)
        }
        let inputs = planned.inputs.map { input in
            let recorded = manifest.inputs[input.name]
            return StepDetailInput(name: input.name, type: input.type.rawValue, artifact: recorded?.digest, uri: recorded?.uri)
        }
        let outputs = step.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let plannedJSON = String(decoding: try encoder.encode(planned), as: UTF8.self)
        let metrics = try stepFacts(runID: runID).first(where: { $0.name == name })?.metrics ?? [:]
        return StepDetail(
            run: runID, step: name, status: step.status, reused: step.reused, plannedStepJSON: plannedJSON,
            code: manifest.code?.digest, inputs: inputs, outputs: outputs, metrics: metrics
        )
    }
}

/// The coordinator's cache and history as a dry run sees them; the closures run on the actor,
/// synchronously, while `DryRunPlanner.decide` runs there.
struct ServiceCacheView: DryRunPlanner.CacheView {
    let lookup: (String, PlannedStep) -> DryRunPlanner.CacheLookup
    let earlier: (String) -> [NearestExecution.Candidate]

    func lookup(key: String, step: PlannedStep) -> DryRunPlanner.CacheLookup { lookup(key, step) }
    func earlierExecutions(of step: String) -> [NearestExecution.Candidate] { earlier(step) }
}
