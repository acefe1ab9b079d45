import Artifacts
import Foundation
import Logging
import Protocol
import Spec
import Store
import Transport

extension CoordinatorService {
    /// Handles one transport event.
    func handle(_ event: CoordinatorTransportEvent) {
        switch event {
        case .malformed(let peer, let error):
            logger.warning("dropped a malformed message: \(error)", metadata: ["peer": "\(peer)"])
        case .undeliverable(let peer, let reason):
            if let id = workerIDsByPeer[peer] {
                removeWorker(id: id, reason: "connection to the worker lost: \(reason)")
            }
        case .message(let peer, let message):
            handle(message, from: peer)
        }
        // Group commit: while more messages are already waiting, their writes join this batch
        // (one transaction, one fsync) and the replies wait for it, up to a bound.
        eventsSinceFlush += 1
        if transport.pendingEvents == 0 || eventsSinceFlush >= Self.maximumEventsPerCommit {
            flushOutbox(throttled: true)
        }
    }

    /// The heartbeat interval in milliseconds.
    var heartbeatMilliseconds: Int64 {
        configuration.heartbeatInterval.components.seconds * 1000 + configuration.heartbeatInterval.components.attoseconds / 1_000_000_000_000_000
    }

    /// Attempts that end sooner than this (worker clock, dispatch to end) let their worker be
    /// sent attempts ahead of its slots.
    static let shortStepMilliseconds: Int64 = 1000

    /// The most transport events whose writes share one commit.
    public static let maximumEventsPerCommit = 64

    func handle(_ message: Message, from peer: PeerID) {
        if case .hello(let hello) = message.payload {
            guard admitsHello(message, from: peer) else { return }
            register(hello, envelope: message.envelope, from: peer, key: message.authenticatedKey)
            return
        }
        guard let workerID = workerIDsByPeer[peer], workers[workerID] != nil else {
            send(.refuse(Refuse(reason: "unknown worker: send hello first", helloRequired: true)), to: peer, cause: message.envelope.messageID)
            return
        }
        guard authenticates(message, as: workerID, from: peer) else { return }
        let now = monotonicNow()
        workers[workerID]!.lastSeen = now
        switch message.payload {
        case .heartbeat(let heartbeat):
            workers[workerID]!.heartbeatSequence = max(workers[workerID]!.heartbeatSequence, heartbeat.sequence)
            reconcile(heartbeat.runningAttempts, workerID: workerID, now: now)
        case .drain(let drain):
            markDraining(workerID, reason: drain.reason)
        case .attemptStarted(let started):
            confirm(started.attemptID, workerID: workerID, now: now)
            attemptStarted(started.attemptID, workerID: workerID)
        case .attemptFinished(let finished):
            attemptFinished(finished, workerID: workerID, peer: peer, cause: message.envelope.messageID)
        case .logChunk(let chunk):
            confirm(chunk.attemptID, workerID: workerID, now: now)
            appendLog(chunk, bytes: message.bulk, workerID: workerID)
        case .metrics(let metrics):
            recordMetrics(metrics, workerID: workerID)
        case .fetchRequest(let request):
            serveFetch(request, to: peer)
        case .uploadBegin(let begin):
            beginUpload(begin, workerID: workerID, peer: peer)
        case .uploadChunk(let chunk):
            receiveUpload(chunk, bytes: message.bulk, peer: peer)
        default:
            logger.warning("ignored \(message.envelope.code) from a worker", metadata: ["worker": "\(workerID)"])
        }
    }

    func register(_ hello: Hello, envelope: Envelope, from peer: PeerID, key: String? = nil) {
        let key = security.allowList == nil ? nil : key
        guard hello.protocolVersion == ProtocolVersion.current, envelope.version == ProtocolVersion.current else {
            let reason = "protocol version \(hello.protocolVersion) is not supported: this coordinator speaks version \(ProtocolVersion.current); upgrade the worker"
            refuseRegistration(reason, key: key, name: hello.workerName, peer: peer, cause: envelope.messageID)
            return
        }
        if let old = workerIDsByPeer[peer] {
            // Its attempts become orphans for a moment and are re-attached below if it still
            // runs them.
            removeWorker(id: old, reason: "worker \(hello.workerName) registered again")
        }
        let name = hello.workerName.isEmpty ? "worker" : hello.workerName
        let identity = WorkerIdentity(key: key, name: name)
        var id = name
        if let holder = workers.values.filter({ $0.name == name }).min(by: { $0.id < $1.id }) {
            guard holder.identity == identity else {
                // A name is a label, not a credential: another key may not take it over (nor the
                // attempts that went to it).
                let reason = "the worker name \(name) is in use by a connected worker with another key; give this worker its own --name"
                refuseRegistration(reason, key: key, name: name, peer: peer, cause: envelope.messageID, holder: holder.identity)
                return
            }
            if monotonicNow() - holder.lastSeen > 2 * heartbeatMilliseconds {
                // The same worker again, whose old connection went silent (it restarted): the new
                // connection replaces the old one, which is told to stop should it still listen.
                send(.refuse(Refuse(reason: "a newer connection of this worker (\(name)) replaced this one")), to: holder.peer)
                removeWorker(id: holder.id, reason: "replaced by a newer connection of the same worker")
            } else {
                // Two live connections of one identity and name (two workers sharing a key file and a
                // host name): both serve, the second under its own registration id. Either may re-attach
                // the other's attempts, which belong to their shared identity.
                workerCounter += 1
                id = "\(name)#\(workerCounter)"
            }
        } else if let recent = recentNames[name], recent.identity != identity,
                  monotonicNow() - recent.leftAt < configuration.lossTimeoutMilliseconds {
            // Its last holder left moments ago and may be on its way back (a restart, a network
            // blip): the name stays its own for as long as its attempts' leases would.
            let reason = "the worker name \(name) belongs to a worker with another key that disconnected \((monotonicNow() - recent.leftAt) / 1000) s ago; give this worker its own --name"
            refuseRegistration(reason, key: key, name: name, peer: peer, cause: envelope.messageID, holder: recent.identity)
            return
        }
        let now = wallNow()
        workers[id] = ConnectedWorker(
            id: id, name: name, peer: peer, capabilities: hello.capabilities, lastSeen: monotonicNow(), firstSeen: now, key: key
        )
        workerIDsByPeer[peer] = id
        let capabilitiesJSON = String(decoding: (try? JSONEncoder().encode(hello.capabilities)) ?? Data(), as: UTF8.self)
        do {
            try store.saveWorker(WorkerRecord(id: id, name: name, capabilitiesJSON: capabilitiesJSON, connected: true, firstSeen: now, lastSeen: now))
        } catch {
            logger.error("could not record worker \(id): \(error)")
        }
        logger.info("worker joined", metadata: ["worker": "\(id)", "slots": "\(hello.capabilities.slots)", "labels": "\(hello.capabilities.labels)"])
        let interval = Int(heartbeatMilliseconds)
        // The worker's lease ends well before this coordinator gives an attempt up (8 s of 10 s).
        let lease = Int(configuration.lossTimeoutMilliseconds * 4 / 5)
        send(.welcome(Welcome(workerID: id, heartbeatIntervalMilliseconds: interval, leaseMilliseconds: lease)), to: peer, cause: envelope.messageID)
        // Attempts it still runs (after a reconnect or a coordinator restart) and that were
        // dispatched to its identity are re-attached, not run again; any others it names are canceled.
        let held = claim(hello.runningAttempts, workerID: id, now: monotonicNow()).held
        for action in scheduler.on(.workerJoined(id: id, capacity: WorkerCapacity(hello.capabilities), holding: held.map(self.held))) {
            handle(action)
        }
        bump()
    }

    /// Forgets a worker; its running attempts go back to the queue (or fail after too many losses).
    func removeWorker(id: String, reason: String) {
        guard let worker = workers.removeValue(forKey: id) else { return }
        workerIDsByPeer[worker.peer] = nil
        if recentNames.count >= 10_000 { recentNames.removeAll(keepingCapacity: true) }
        recentNames[worker.name] = (worker.identity, monotonicNow())
        for (key, upload) in uploads where upload.peer == worker.peer {
            upload.writer.close()
            uploads[key] = nil
            for waiter in uploadWaiters.removeValue(forKey: upload.writer.expected.hex) ?? [] {
                send(.uploadStored(UploadStored(blob: upload.writer.expected.hex, ok: false, reason: "the worker uploading the same blob was lost")), to: waiter)
            }
        }
        if var record = try? store.workers().first(where: { $0.id == id }) {
            record.connected = false
            record.lastSeen = wallNow()
            try? store.saveWorker(record)
        }
        logger.warning("worker left: \(reason)", metadata: ["worker": "\(id)"])
        for action in scheduler.on(.workerLeft(id: id)) {
            handle(action)
        }
        // Whatever it still held (the scheduler names what it placed there) is orphaned too: a
        // registration id may be taken by the next connection, a lease never passes with it.
        for (attemptID, lease) in lifecycle.leases where lease.holder == id {
            orphan(attemptID, workerName: worker.name, failure: .workerLost, reason: "worker \(id) was lost while running it")
        }
        bump()
    }

    /// Carries out a scheduler decision.
    func handle(_ action: Scheduler.Action) {
        switch action {
        case .dispatch(let attemptID, let workerID, let gpuDevices):
            dispatch(attemptID: attemptID, to: workerID, gpuDevices: gpuDevices)
        case .lost(let attemptID, let workerID):
            orphan(attemptID, workerName: workers[workerID]?.name ?? workerID, failure: .workerLost, reason: "worker \(workerID) was lost while running it")
        }
    }

    func dispatch(attemptID: String, to workerID: String, gpuDevices: [Int] = []) {
        guard var attempt = attempts[attemptID], var worker = workers[workerID],
              let planned = runs[attempt.runID]?.planned[attempt.step] else { return }
        let inputs = runs[attempt.runID]!.resolvedInputs[attempt.step] ?? [:]
        let code = runs[attempt.runID]!.codeManifests[attempt.step]?.digest
        var dispatchInputs: [DispatchInput] = []
        for input in planned.inputs {
            let value = inputs[input.name] ?? ""
            if case .uri = input.source, input.datastoreURI == nil {
                dispatchInputs.append(DispatchInput(name: input.name, kind: input.type.isFile ? .file : .folder, uri: value))
            } else {
                dispatchInputs.append(DispatchInput(name: input.name, kind: input.type.isFile ? .file : .folder, artifact: value))
            }
        }
        var environment = planned.environmentVariables
        environment["CONDUIT_RUN_ID"] = attempt.runID
        environment["CONDUIT_STEP"] = attempt.step
        environment["CONDUIT_ATTEMPT_ID"] = attemptID
        environment["AZUREML_RUN_ID"] = attemptID
        let dispatch = Dispatch(
            attemptID: attemptID, runID: attempt.runID, step: attempt.step, command: planned.command.segments.map(Self.piece),
            environment: environment, code: code, inputs: dispatchInputs,
            outputs: planned.outputs.map {
                DispatchOutput(name: $0.name, kind: $0.type.isFile ? .file : .folder, isDefaultArtifacts: $0.isDefaultArtifacts)
            },
            timeoutSeconds: planned.timeoutSeconds, leaseSequence: worker.heartbeatSequence, gpuDevices: gpuDevices,
            environmentSetup: planned.environmentSetup.map(Self.dispatchEnvironment)
        )
        var record = AttemptRecord(id: attemptID, runID: attempt.runID, step: attempt.step, worker: workerID, status: "dispatched", dispatchedAt: wallNow())
        record.workerIdentity = worker.identity.stored
        record.gpuDevices = gpuDevices.isEmpty ? nil : gpuDevices.map(String.init).joined(separator: ",")
        // The worker fetches the inputs it lacks: from now on it holds them.
        _ = scheduler.on(.holds(workerID: workerID, artifacts: dispatchInputs.compactMap(\.artifact)))
        attempt.record = record
        attempts[attemptID] = attempt
        _ = lifecycle.on(.dispatched(attemptID: attemptID, workerID: workerID, identity: worker.identity, now: monotonicNow()))
        if let queued = queuedAt.removeValue(forKey: attemptID) { telemetry.dispatchLatency.recordMilliseconds(max(0, monotonicNow() - queued)) }
        worker.running.insert(attemptID)
        workers[workerID] = worker
        if var step = runs[attempt.runID]?.steps[attempt.step] {
            step.worker = workerID
            step.logAttempt = attemptID
            step.startedAt = record.dispatchedAt
            runs[attempt.runID]?.steps[attempt.step] = step
            batch.update(step)
            batch.save(record)
        }
        logger.debug("dispatch", metadata: ["attempt": "\(attemptID)", "worker": "\(workerID)"])
        send(.dispatch(dispatch), to: worker.peer)
        bump()
    }

    /// The wire form of a step's environment.
    public static func dispatchEnvironment(_ setup: StepEnvironment) -> DispatchEnvironment {
        let kind: DispatchEnvironment.Kind = switch setup.kind {
        case .workerPython: .workerPython
        case .interpreter: .interpreter
        case .virtualEnvironment: .virtualEnvironment
        }
        return DispatchEnvironment(label: setup.label, kind: kind, python: setup.python, requirements: setup.requirements, digest: setup.digest)
    }

    static func piece(_ segment: CommandTemplate.Segment) -> CommandPiece {
        switch segment {
        case .text(let text): .text(text)
        case .value(let value): .value(value)
        case .inputPath(let name): .inputPath(name)
        case .outputPath(let name): .outputPath(name)
        }
    }

    /// The attempt, if `workerID` is the worker currently holding it; nil for stale reports.
    /// The attempt, if it is its step's current one, held by `workerID`, and dispatched to that
    /// worker's identity (a registration id may be reused by another connection; an identity not).
    func currentAttempt(_ attemptID: String, workerID: String) -> ActiveAttempt? {
        guard let attempt = attempts[attemptID], let worker = workers[workerID],
              lifecycle.isHeld(attemptID, by: workerID, identity: worker.identity),
              runs[attempt.runID]?.currentAttempt[attempt.step] == attemptID else { return nil }
        return attempt
    }

    func attemptStarted(_ attemptID: String, workerID: String) {
        guard var attempt = currentAttempt(attemptID, workerID: workerID) else { return }
        attempt.record?.status = "running"
        attempt.record?.startedAt = wallNow()
        attempts[attemptID] = attempt
        if let record = attempt.record { batch.save(record, urgent: false) }
        apply(.attemptStarted(step: attempt.step), runID: attempt.runID, urgent: false)
    }

    func attemptFinished(_ finished: AttemptFinished, workerID: String, peer: PeerID, cause: UInt64) {
        guard let attempt = currentAttempt(finished.attemptID, workerID: workerID) else {
            // A repeated report of a success already recorded for this worker's identity (its
            // acknowledgement was lost) is acknowledged again; anything else, from a superseded
            // attempt or from another identity, is fenced off.
            let identity = workers[workerID]?.identity
            let committed = finished.outcome == .succeeded && identity.map { isCommitted(finished.attemptID, by: $0) } == true
            let reason = committed ? nil : "attempt is no longer current (fenced: the step was given up or went to another worker)"
            send(.attemptAcknowledged(AttemptAcknowledged(attemptID: finished.attemptID, accepted: committed, reason: reason)), to: peer, cause: cause)
            return
        }
        forget(finished.attemptID)
        workers[workerID]?.running.remove(finished.attemptID)
        runs[attempt.runID]?.currentAttempt[attempt.step] = nil
        var record = attempt.record ?? AttemptRecord(id: attempt.id, runID: attempt.runID, step: attempt.step, worker: workerID, status: "dispatched", dispatchedAt: finished.startedAt)
        record.status = finished.outcome.rawValue
        record.exitCode = finished.exitCode
        record.signal = finished.signal
        record.startedAt = finished.startedAt
        record.finishedAt = finished.endedAt
        record.message = finished.message
        telemetry.attemptRan(milliseconds: finished.endedAt - finished.startedAt, outcome: finished.outcome.rawValue)
        // Attempts wait on a worker (dispatch ahead) only while its steps are short: for a long
        // step the round trip saved is nothing, and an attempt held by a busy worker could have
        // started on another that frees up first.
        let short = finished.endedAt - finished.startedAt < Self.shortStepMilliseconds
        var freed = scheduler.on(.setAhead(id: workerID, count: short ? configuration.dispatchAhead : 0))
        freed += scheduler.on(.remove(attemptID: finished.attemptID))
        switch finished.outcome {
        case .succeeded:
            // Its outputs are in the worker's cache: steps that read them prefer that worker.
            _ = scheduler.on(.holds(workerID: workerID, artifacts: Array(finished.outputs.values)))
            if let problem = commit(finished, attempt: attempt, record: record) {
                // The worker believed these blobs were stored (it skips uploading what it knows the
                // coordinator holds): reject first, which makes it forget that, then retry, so the
                // next attempt uploads them again.
                let reason = "outputs were not stored intact: \(problem)"
                var lost = record
                lost.status = AttemptOutcome.workerError.rawValue
                lost.message = reason
                batch.save(lost)
                send(.attemptAcknowledged(AttemptAcknowledged(attemptID: finished.attemptID, accepted: false, reason: reason)), to: peer, cause: cause)
                attemptFailed(attempt, .workerError, reason: reason, worker: workerID)
                for action in freed { handle(action) }
                bump()
                return
            }
            if let identity = workers[workerID]?.identity { rememberCommitted(finished.attemptID, by: identity) }
        case .failed, .timedOut:
            batch.save(record)
            let reason = finished.message ?? (finished.exitCode.map { "exit code \($0)" } ?? "killed by signal \(finished.signal ?? 0)")
            attemptFailed(attempt, finished.outcome == .timedOut ? .timeout : .userExit, reason: reason, worker: workerID)
        case .canceled:
            batch.save(record)
        case .workerError:
            batch.save(record)
            attemptFailed(attempt, .workerError, reason: finished.message ?? "the worker could not run the step", worker: workerID)
        case .handedBack:
            batch.save(record)
            attemptFailed(attempt, .handedBack, reason: finished.message ?? "the worker handed the attempt back", worker: workerID)
        case .fenced:
            batch.save(record)
            attemptFailed(attempt, .workerLost, reason: finished.message ?? "the worker's lease on the attempt ran out", worker: workers[workerID]?.name ?? workerID)
        }
        send(.attemptAcknowledged(AttemptAcknowledged(attemptID: finished.attemptID, accepted: true)), to: peer, cause: cause)
        for action in freed { handle(action) }
        bump()
    }

    /// Records a success once every output is verified in the store; returns what is wrong
    /// instead when an output is missing or incomplete (nothing is recorded then).
    func commit(_ finished: AttemptFinished, attempt: ActiveAttempt, record: AttemptRecord) -> String? {
        guard let planned = runs[attempt.runID]?.planned[attempt.step], var step = runs[attempt.runID]?.steps[attempt.step] else { return nil }
        let forceRerun = runs[attempt.runID]!.plan.settings.forceRerun
        if let problem = verify(outputs: finished.outputs, expected: planned.outputs.map(\.name)) {
            return problem
        }
        // The step's MLflow store (artifacts, models) is kept like an output: verified, then recorded.
        var record = record
        if let tracking = finished.tracking {
            if let problem = verify(outputs: ["MLflow store": tracking], expected: ["MLflow store"]) { return problem }
            record.trackingTree = tracking
        }
        let now = wallNow()
        var artifacts: [ArtifactRecord] = []
        if let tracking = finished.tracking, let digest = Digest(hex: tracking), let manifest = try? loadManifest(digest) {
            artifacts.append(ArtifactRecord(digest: tracking, kind: "folder", size: manifest.totalSize, createdAt: now))
        }
        for output in planned.outputs {
            guard let text = finished.outputs[output.name], let digest = Digest(hex: text), let manifest = try? loadManifest(digest) else { continue }
            artifacts.append(ArtifactRecord(digest: text, kind: output.type.isFile ? "file" : "folder", size: manifest.totalSize, createdAt: now))
            artifactSizes[text] = manifest.totalSize
        }
        let outputsJSON = CanonicalJSON.object(finished.outputs)
        step.outputsJSON = outputsJSON
        step.status = .completed
        step.finishedAt = now
        step.logAttempt = attempt.id
        step.reused = false
        let cacheable = !forceRerun && planned.isDeterministic
        let entry = cacheable && step.cacheKey != nil
            ? CacheEntryRecord(key: step.cacheKey!, runID: attempt.runID, step: attempt.step, attemptID: attempt.id, outputsJSON: outputsJSON, createdAt: now)
            : nil
        // One transaction with everything else this event changes: written before the
        // acknowledgement and before any step that reads these outputs is dispatched.
        batch.update(step)
        batch.save(record)
        for artifact in artifacts { batch.insert(artifact) }
        if let entry {
            batch.save(entry)
            rememberCacheEntry(entry, outputs: finished.outputs)
        }
        batch.append(EventRecord(runID: attempt.runID, step: attempt.step, kind: "completed", detail: outputsJSON, at: now))
        runs[attempt.runID]?.steps[attempt.step] = step
        if planned.outputs.contains(where: { $0.path != nil }) {
            exportToDatastores(runID: attempt.runID, step: attempt.step, outputs: finished.outputs)
        }
        registerOutputs(runID: attempt.runID, step: attempt.step, outputs: finished.outputs)
        apply(.succeeded(step: attempt.step, outputs: finished.outputs), runID: attempt.runID)
        return nil
    }
}
