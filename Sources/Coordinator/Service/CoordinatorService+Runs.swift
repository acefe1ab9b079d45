import Artifacts
import Foundation
import Logging
import Protocol
import Spec
import Store
import Transport

extension CoordinatorService {
    /// Accepts a pipeline submission and starts it. Every blob the request names must already
    /// be in the artifact store.
    public func submit(_ request: SubmitRequest) throws -> String {
        try submit(request, plan: try decodedPlan(of: request))
    }

    /// The plan `request.planJSON` encodes. The same plan is often submitted again (re-runs after
    /// a code change, dry runs before a run): each is decoded once.
    func decodedPlan(of request: SubmitRequest) throws -> PipelinePlan {
        let bytes = Array(request.planJSON.utf8)
        let digest = SHA256Hasher.digest(of: bytes)
        if let plan = decodedPlans[digest] { return plan }
        let plan: PipelinePlan
        do {
            plan = try JSONDecoder().decode(PipelinePlan.self, from: Data(bytes))
        } catch {
            throw CoordinatorError(.invalidRequest, "the submitted plan does not decode: \(error)")
        }
        if decodedPlans.count >= 8 { decodedPlans.removeAll() }
        decodedPlans[digest] = plan
        return plan
    }

    /// Accepts a submission whose plan the caller has already decoded (the in-process client);
    /// `plan` must be what `request.planJSON` encodes.
    public func submit(_ request: SubmitRequest, plan: PipelinePlan) throws -> String {
        try Self.checkStructure(of: plan)
        try checkOptimizer(for: plan)
        let names = Set(plan.steps.map(\.name))
        for forced in request.force where !names.contains(forced) {
            throw CoordinatorError(.invalidRequest, "--force \(forced): no such step; steps are \(plan.steps.map(\.name).joined(separator: ", "))")
        }
        var codeManifests: [String: CacheManifest.Code] = [:]
        for (step, digest) in request.code {
            codeManifests[step] = try codeSnapshot(digest: digest, step: step)
        }
        for (key, digest) in request.localInputs {
            _ = try treeManifest(digest: digest, what: "input \(key.replacingOccurrences(of: "\u{1F}", with: "."))")
        }
        if !batch.isEmpty {
            // Transitions held back (a full disk) are written first: a failed write of the run's
            // rows below then drops the run's alone.
            do {
                try writeBatch()
            } catch {
                throw CoordinatorError(
                    .storage,
                    "the coordinator cannot record a run now: writing its database failed (\(error)); free space under \(configuration.dataDirectory) and submit again")
            }
        }
        let runID = Self.newRunID()
        let now = wallNow()
        let submissionJSON = request.json
        let record = RunRecord(id: runID, pipeline: plan.name, status: .running, submissionJSON: submissionJSON, createdAt: now)
        var steps: [String: StepRecord] = [:]
        for (index, step) in plan.steps.enumerated() {
            steps[step.name] = StepRecord(runID: runID, name: step.name, position: index, status: .waiting)
        }
        let nodes = try Self.nodes(of: plan, localInputs: request.localInputs)
        let requirements = try requirements(of: plan)
        var run = ActiveRun(
            record: record, plan: plan, machine: RunMachine(nodes: nodes, continueOnStepFailure: plan.settings.continueOnStepFailure),
            steps: steps, planned: Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.name, $0) }),
            codeManifests: codeManifests, force: Set(request.force), requirements: requirements
        )
        let actions = run.machine.on(.start)
        runs[runID] = run
        // The run's rows go into the same transaction as its first transitions (for a fully cached
        // run: its whole history), inserted in their latest state.
        batch.insert(record, steps: plan.steps.compactMap { steps[$0.name] })
        logger.info("run submitted", metadata: ["run": "\(runID)", "pipeline": "\(plan.name)", "steps": "\(plan.steps.count)"])
        perform(actions, runID: runID)
        persist(runID: runID)
        do {
            try writeBatch()
        } catch {
            // Nothing of the run was recorded: forget it and tell the client.
            batch = StoreBatch()
            for (attemptID, attempt) in attempts where attempt.runID == runID {
                if let workerID = lifecycle.holder(of: attemptID) { workers[workerID]?.running.remove(attemptID) }
                forget(attemptID)
                _ = scheduler.on(.remove(attemptID: attemptID))
            }
            runs[runID] = nil
            outbox.removeAll { message, _ in
                if case .dispatch(let dispatch) = message.payload { return dispatch.runID == runID }
                return false
            }
            throw CoordinatorError(.storage, "the coordinator could not record the run: \(error)")
        }
        flushOutbox()
        bump()
        return runID
    }

    /// The run machine's graph of `plan`: each step's inputs bound to upstream outputs, or fixed
    /// (uploaded local data by digest, URIs as written).
    static func nodes(of plan: PipelinePlan, localInputs: [String: String]) throws -> [RunMachine.Node] {
        var nodes: [RunMachine.Node] = []
        for step in plan.steps {
            var upstream: [String: RunMachine.StepOutputReference] = [:]
            var fixed: [String: String] = [:]
            for input in step.inputs {
                switch input.source {
                case .stepOutput(let producer, let output):
                    upstream[input.name] = .init(step: producer, output: output)
                case .localPath(let path):
                    guard let digest = localInputs[step.name + "\u{1F}" + input.name] else {
                        throw CoordinatorError(.invalidRequest, "step \(step.name) input \(input.name): the local data \(path) was not uploaded")
                    }
                    fixed[input.name] = digest
                case .uri(let uri):
                    fixed[input.name] = uri
                }
            }
            nodes.append(RunMachine.Node(
                name: step.name, upstreamInputs: upstream, fixedInputs: fixed, trialOf: step.trialOf,
                sweep: step.sweep.map { RunMachine.Node.Sweep(maxConcurrentTrials: $0.limits.maxConcurrentTrials) }
            ))
        }
        return nodes
    }

    /// Checks what the run machine relies on, since a plan may come from any HTTP client: unique
    /// step names, inputs that read outputs of earlier steps, outputs bound to existing steps.
    static func checkStructure(of plan: PipelinePlan) throws {
        guard !plan.steps.isEmpty else { throw CoordinatorError(.invalidRequest, "the plan has no steps") }
        var outputsByStep: [String: Set<String>] = [:]
        for step in plan.steps {
            guard !step.name.isEmpty, outputsByStep[step.name] == nil else {
                throw CoordinatorError(.invalidRequest, "the plan names step '\(step.name)' twice (or with an empty name)")
            }
            for input in step.inputs {
                guard case .stepOutput(let producer, let output) = input.source else { continue }
                guard let outputs = outputsByStep[producer], outputs.contains(output) else {
                    throw CoordinatorError(
                        .invalidRequest,
                        "step \(step.name) input \(input.name) reads \(producer).\(output), which is not an output of an earlier step"
                    )
                }
            }
            guard Set(step.outputs.map(\.name)).count == step.outputs.count, Set(step.inputs.map(\.name)).count == step.inputs.count else {
                throw CoordinatorError(.invalidRequest, "step \(step.name) names an input or an output twice")
            }
            for output in step.outputs {
                guard let asset = output.asset else { continue }
                if let problem = RegistryIndex.problem(withName: asset.name, kind: .data) ?? asset.version.flatMap(RegistryIndex.problem(withVersion:)) {
                    throw CoordinatorError(.invalidRequest, "step \(step.name) output \(output.name) registers a data asset: \(problem)")
                }
            }
            outputsByStep[step.name] = Set(step.outputs.map(\.name))
        }
        for binding in plan.outputs where outputsByStep[binding.step]?.contains(binding.output) != true {
            throw CoordinatorError(.invalidRequest, "pipeline output \(binding.name) is bound to \(binding.step).\(binding.output), which does not exist")
        }
        try checkSweeps(of: plan)
    }

    /// Cancels a run: queued steps are dropped, running attempts are killed.
    public func cancel(runID: String) throws {
        guard runs[runID] != nil else {
            guard try store.run(id: runID) != nil else { throw CoordinatorError(.notFound, "no run \(runID)") }
            return  // already finished
        }
        apply(.cancel(reason: "canceled by the user"), runID: runID)
        flushOutbox()
    }

    /// Keeps a finished run for later reports (the 32 most recent).
    func rememberFinished(runID: String) {
        guard let run = runs[runID] else { return }
        recentRuns[runID] = FinishedRun(plan: run.plan, record: run.record, steps: run.plan.steps.compactMap { run.steps[$0.name] })
        recentRunOrder.append(runID)
        if recentRunOrder.count > 32 {
            recentRuns[recentRunOrder.removeFirst()] = nil
        }
    }

    /// Remembers a cache entry and its outputs (bounded: forgotten wholesale past 100,000).
    func rememberCacheEntry(_ entry: CacheEntryRecord, outputs: [String: String]) {
        if recentCacheEntries.count >= 100_000 { recentCacheEntries.removeAll() }
        recentCacheEntries[entry.key] = (entry, outputs)
    }

    /// The plan of any run: active, recently finished, or decoded from the store.
    func plan(runID: String, record: RunRecord?) -> PipelinePlan? {
        if let plan = runs[runID]?.plan ?? recentRuns[runID]?.plan { return plan }
        return record.flatMap(Self.plan(of:))
    }

    /// `run-YYYYMMDD-HHMMSS-xxxxxxxx` (UTC, 32 random bits), formatted without a `DateFormatter`
    /// (whose set-up costs tens of milliseconds).
    static func newRunID(now: time_t = time(nil)) -> String {
        var seconds = now
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let date = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))"
        let time = "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "run-\(date)-\(time)-\(String(repeating: "0", count: 8 - suffix.count))\(suffix)"
    }

    // MARK: Driving the run machine

    /// Feeds `event` to the run's machine and carries out what it asks. The writes join the
    /// current batch; whoever handles the triggering event or request flushes it. `urgent: false`
    /// for progress nothing waits on (a step started), which may ride along with a later commit.
    func apply(_ event: RunMachine.Event, runID: String, urgent: Bool = true) {
        guard runs[runID] != nil else { return }
        let actions = runs[runID]!.machine.on(event)
        perform(actions, runID: runID)
        persist(runID: runID, urgent: urgent)
        bump()
    }

    func perform(_ actions: [RunMachine.Action], runID: String) {
        var queue = actions[...]
        while let action = queue.popFirst() {
            guard runs[runID] != nil else { return }
            switch action {
            case .resolveCache(let step, let inputs) where needsPoint(runID: runID, step: step):
                runs[runID]!.resolvedInputs[step] = inputs
                if let event = choosePoint(runID: runID, step: step, inputs: inputs) {
                    queue.append(contentsOf: runs[runID]!.machine.on(event))
                }
            case .resolveCache(let step, let inputs) where runs[runID]?.planned[step]?.isSweep == true:
                runs[runID]!.resolvedInputs[step] = inputs
                queue.append(contentsOf: runs[runID]!.machine.on(selectBest(runID: runID, step: step)))
            case .resolveCache(let step, let inputs):
                if hasUnreadDatastoreInputs(runID: runID, step: step, inputs: inputs) {
                    // Read off the actor; the machine hears back through `inputsRead`.
                    readDatastoreInputs(runID: runID, step: step)
                    continue
                }
                let event = resolveCache(runID: runID, step: step, inputs: inputs)
                if case .cacheResolved(_, let hit) = event { (hit == nil ? telemetry.cacheMisses : telemetry.cacheHits).increment() }
                queue.append(contentsOf: runs[runID]!.machine.on(event))
            case .enqueue(let step, let inputs):
                enqueue(runID: runID, step: step, inputs: inputs)
            case .stop(let step, let reason):
                stop(runID: runID, step: step, reason: reason)
            case .finished(let status, let reason):
                if pendingExports[runID, default: 0] > 0 {
                    // Ended once its outputs are in their datastores: see `exportEnded`.
                    deferredFinishes[runID] = (status, reason)
                } else {
                    finish(runID: runID, status: status, reason: reason)
                }
            }
        }
    }

    /// Copies the states of the steps the machine changed into their records and saves them.
    func persist(runID: String, urgent: Bool = true) {
        guard let names = runs[runID]?.machine.takeChanges(), !names.isEmpty else { return }
        var changed: [StepRecord] = []
        changed.reserveCapacity(names.count)
        let now = wallNow()
        for name in names {
            guard let state = runs[runID]!.machine.states[name], var record = runs[runID]!.steps[name] else { continue }
            record.status = state.status
            if state.status.isFinal, record.finishedAt == nil { record.finishedAt = now }
            if let reason = state.reason { record.reason = reason }
            runs[runID]!.steps[name] = record
            changed.append(record)
        }
        for record in changed { batch.update(record, urgent: urgent) }
    }

    /// Computes the step's cache manifest and decides from the cache.
    func resolveCache(runID: String, step: String, inputs: [String: String]) -> RunMachine.Event {
        guard let planned = runs[runID]?.planned[step], var record = runs[runID]?.steps[step] else {
            return .cacheResolved(step: step, hit: nil)
        }
        runs[runID]!.resolvedInputs[step] = inputs
        let settings = runs[runID]!.plan.settings
        let forced = runs[runID]!.force.contains(step)
        let manifest = CacheManifest(step: planned, inputs: inputs, code: runs[runID]!.codeManifests[step])
        let json = manifest.canonicalJSON
        let key = CacheManifest.key(ofCanonicalJSON: json)
        record.cacheKey = key
        record.manifestJSON = json
        defer { runs[runID]!.steps[step] = record }
        let optOut = CacheManifest.reuseDisabledReason(for: planned, settings: settings, forced: forced)
        if let optOut {
            record.reason = "ran: reuse disabled because \(optOut)"
            return .cacheResolved(step: step, hit: nil)
        }
        do {
            let entry: CacheEntryRecord
            let outputs: [String: String]
            if let known = recentCacheEntries[key] {
                (entry, outputs) = known
            } else {
                guard let stored = try batch.cacheEntries.last(where: { $0.key == key }) ?? store.cacheEntry(key: key) else {
                    return .cacheResolved(step: step, hit: nil)
                }
                entry = stored
                outputs = (try? JSONDecoder().decode([String: String].self, from: Data(stored.outputsJSON.utf8))) ?? [:]
                rememberCacheEntry(entry, outputs: outputs)
            }
            if let problem = verify(outputs: outputs, expected: planned.outputs.map(\.name)) {
                logger.warning("cache entry not intact, recomputing: \(problem)", metadata: ["run": "\(runID)", "step": "\(step)"])
                recentCacheEntries[key] = nil
                try store.deleteCacheEntry(key: key)
                record.reason = "ran: the cached result from run \(entry.runID) was not intact (\(problem))"
                return .cacheResolved(step: step, hit: nil)
            }
            record.reused = true
            record.outputsJSON = entry.outputsJSON
            record.sourceRun = entry.runID
            record.sourceAttempt = entry.attemptID
            record.logAttempt = entry.attemptID
            record.reason = nil
            logger.debug("cache hit", metadata: ["run": "\(runID)", "step": "\(step)", "from": "\(entry.runID)"])
            if planned.outputs.contains(where: { $0.path != nil }) {
                exportToDatastores(runID: runID, step: step, outputs: outputs)
            }
            registerOutputs(runID: runID, step: step, outputs: outputs)
            return .cacheResolved(step: step, hit: outputs)
        } catch {
            logger.error("cache lookup failed: \(error)", metadata: ["run": "\(runID)", "step": "\(step)"])
            return .cacheResolved(step: step, hit: nil)
        }
    }

    /// Nil when every named output's artifact is complete in the store, else what is wrong.
    func verify(outputs: [String: String], expected: [String]) -> String? {
        for name in expected {
            guard let digestText = outputs[name] else { return "output \(name) was not recorded" }
            guard let digest = Digest(hex: digestText), blobs.contains(digest) else {
                if let digest = Digest(hex: digestText), blobs.isQuarantined(digest) {
                    return "output \(name): cached output blob \(digestText.prefix(12)) failed verification and was quarantined"
                }
                return "output \(name): manifest blob \(digestText.prefix(12)) missing"
            }
            guard let manifest = try? loadManifest(digest) else { return "output \(name): manifest unreadable" }
            let missing = Snapshot.missingBlobs(of: manifest, in: blobs)
            if let first = missing.first {
                if blobs.isQuarantined(first) {
                    return "output \(name): cached output blob \(first.hex.prefix(12)) failed verification and was quarantined"
                }
                return "output \(name): blob \(first.hex.prefix(12)) missing"
            }
        }
        return nil
    }

    /// The parsed manifest of an artifact. A manifest's text is its digest, so a parsed copy is
    /// kept; callers still check that its blobs are present in the store.
    func loadManifest(_ digest: Digest) throws -> TreeManifest {
        if let cached = manifestCache[digest] { return cached }
        let manifest = try blobs.manifest(digest)
        if manifestCache.count >= 4096 { manifestCache.removeAll(keepingCapacity: true) }
        manifestCache[digest] = manifest
        return manifest
    }

    func treeManifest(digest text: String, what: String) throws -> TreeManifest {
        guard let digest = Digest(hex: text), blobs.contains(digest) else {
            throw CoordinatorError(.invalidRequest, "\(what): artifact \(text) was not uploaded")
        }
        do {
            let manifest = try loadManifest(digest)
            if let missing = Snapshot.missingBlobs(of: manifest, in: blobs).first {
                throw CoordinatorError(.invalidRequest, "\(what): blob \(missing.hex) was not uploaded")
            }
            return manifest
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError(.invalidRequest, "\(what): artifact \(text) is not a valid manifest: \(error)")
        }
    }

    func codeSnapshot(digest: String, step: String) throws -> CacheManifest.Code {
        Self.code(of: try treeManifest(digest: digest, what: "code of step \(step)"), digest: digest)
    }

    /// Queues a fresh attempt of `step` (kept off `avoiding` when another worker can take it).
    func enqueue(runID: String, step: String, inputs: [String: String], avoiding: String? = nil) {
        guard let planned = runs[runID]?.planned[step], var record = runs[runID]?.steps[step] else { return }
        let number = record.attempts + 1
        let attemptID = AttemptName(runID: runID, position: record.position, number: number).text
        record.attempts = number
        runs[runID]!.steps[step] = record
        runs[runID]!.currentAttempt[step] = attemptID
        runs[runID]!.resolvedInputs[step] = inputs
        attempts[attemptID] = ActiveAttempt(id: attemptID, runID: runID, step: step)
        queuedAt[attemptID] = monotonicNow()
        // Its input artifacts with their sizes, so that it goes where most of them already are.
        var sized: [Scheduler.Input] = []
        for input in planned.inputs {
            if case .uri = input.source, input.datastoreURI == nil { continue }
            if let digest = inputs[input.name], let bytes = artifactSize(digest) { sized.append(Scheduler.Input(artifact: digest, bytes: bytes)) }
        }
        let need = requirement(runID: runID, step: step)
        for action in scheduler.on(.enqueue(.init(attemptID: attemptID, need: need, avoiding: avoiding, inputs: sized))) {
            handle(action)
        }
    }

    /// Every step's requirement; a step whose `compute:` or `resources:` the placement policy
    /// refuses fails the submission, naming the step.
    func requirements(of plan: PipelinePlan) throws -> [String: Requirement] {
        var requirements: [String: Requirement] = [:]
        for step in plan.steps {
            do {
                requirements[step.name] = try configuration.placement.requirement(compute: step.compute, resources: step.resources)
            } catch {
                throw CoordinatorError(.invalidRequest, "step \(step.name): \(error)")
            }
        }
        return requirements
    }

    /// What `step` of a live run needs of a worker.
    func requirement(runID: String, step: String) -> Requirement {
        runs[runID]?.planned[step].map { requirement(of: $0, runID: runID) } ?? Requirement()
    }

    /// What a planned step needs of a worker: as fixed when its run was submitted while the run is
    /// live, else as the placement policy reads it now. A step the policy refuses (the
    /// configuration changed since the run was accepted) keeps only its label.
    func requirement(of planned: PlannedStep, runID: String) -> Requirement {
        if let known = runs[runID]?.requirements[planned.name] { return known }
        return (try? configuration.placement.requirement(compute: planned.compute, resources: planned.resources))
            ?? Requirement(label: planned.compute.flatMap(PlacementConfigFile.computeName))
    }

    /// The bytes an artifact's files hold, remembered once its manifest has been read.
    func artifactSize(_ text: String) -> Int64? {
        if let known = artifactSizes[text] { return known }
        guard let digest = Digest(hex: text), let manifest = try? loadManifest(digest) else { return nil }
        if artifactSizes.count > 100_000 { artifactSizes.removeAll() }
        artifactSizes[text] = manifest.totalSize
        return manifest.totalSize
    }

    func stop(runID: String, step: String, reason: String) {
        guard let attemptID = runs[runID]?.currentAttempt[step] else { return }
        runs[runID]!.currentAttempt[step] = nil
        guard let attempt = attempts[attemptID] else { return }
        let holder = lifecycle.holder(of: attemptID)
        forget(attemptID)
        let freed = scheduler.on(.remove(attemptID: attemptID))
        if let workerID = holder, var worker = workers[workerID] {
            worker.running.remove(attemptID)
            workers[workerID] = worker
            send(.cancel(Cancel(attemptID: attemptID, reason: reason)), to: worker.peer)
        }
        if var record = attempt.record {
            record.status = AttemptOutcome.canceled.rawValue
            record.finishedAt = wallNow()
            record.message = reason
            batch.save(record)
        }
        for action in freed { handle(action) }
    }

    func finish(runID: String, status: RunStatus, reason: String?) {
        guard runs[runID] != nil else { return }
        runs[runID]!.record.status = status
        runs[runID]!.record.reason = reason
        runs[runID]!.record.finishedAt = wallNow()
        persist(runID: runID)
        let record = runs[runID]!.record
        batch.update(record)
        batch.append(EventRecord(runID: runID, step: nil, kind: status.rawValue, detail: reason, at: record.finishedAt ?? 0))
        logger.info("run finished", metadata: ["run": "\(runID)", "status": "\(status.rawValue)"])
        telemetry.runEnded(status)
        for step in runs[runID]!.steps.values { telemetry.stepEnded(step.status, reused: step.reused) }
        rememberFinished(runID: runID)
        runs[runID] = nil
    }
}

extension SubmitRequest {
    /// The request's JSON, as posted to `/v1/runs` and stored with its run, written by hand: the
    /// plan inside is a long string full of escapes, which `JSONEncoder` handles slowly.
    public var json: String {
        var text = "{\"planJSON\":" + CanonicalJSON.quote(planJSON)
        text += ",\"localInputs\":" + CanonicalJSON.object(localInputs)
        text += ",\"code\":" + CanonicalJSON.object(code)
        text += ",\"force\":[" + force.map(CanonicalJSON.quote).joined(separator: ",") + "]}"
        return text
    }
}
