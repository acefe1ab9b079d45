import Artifacts
import Foundation
import Logging
import Protocol
import Spec
import Store
import Transport

/// Leases, orphans, retries, draining, disk space and restart: what keeps runs going unattended.
///
/// Every dispatched attempt holds a lease. Its worker confirms it with each heartbeat (and with
/// every report); the coordinator renews it by naming the attempt in its own heartbeats. An
/// attempt whose worker is gone becomes an *orphan*: it may still be running there, so it is not
/// sent elsewhere until its lease has run out (the worker fences itself 2 s earlier). A worker
/// that registers again and names it re-attaches it; it is not run twice.
extension CoordinatorService {
    // MARK: Leases

    /// The most attempt ids of one hello or heartbeat that are looked at.
    static let maximumClaims = 4096

    /// Whether `attemptID` is dispatched and its step's current attempt.
    func isCurrent(_ attemptID: String) -> Bool {
        guard let attempt = attempts[attemptID], attempt.record != nil else { return false }
        return runs[attempt.runID]?.currentAttempt[attempt.step] == attemptID
    }

    /// Forgets an attempt that is over (or no longer current): its service state and its lease.
    func forget(_ attemptID: String) {
        attempts[attemptID] = nil
        queuedAt[attemptID] = nil
        _ = lifecycle.on(.ended(attemptID: attemptID))
    }

    /// A worker named the attempts it holds (in its hello or a heartbeat). ``AttemptLifecycle``
    /// decides, by identity, which it keeps; this carries the decisions out: binds what it
    /// re-attaches, cancels what it may not keep, logs claims on other identities' attempts.
    /// Returns the attempts it holds now and those of them re-attached by this claim (the caller
    /// tells the scheduler).
    func claim(_ attemptIDs: [String], workerID: String, now: Int64) -> (held: [String], reattached: [String]) {
        guard let worker = workers[workerID] else { return ([], []) }
        // A worker holds its slots' attempts and a few reports: a list far longer is not one, and each
        // id may cost a read of the store.
        let attemptIDs = Array(attemptIDs.prefix(Self.maximumClaims))
        var committed: Set<String> = []
        for attemptID in Set(attemptIDs) {
            if lifecycle.leases[attemptID] != nil, !isCurrent(attemptID) { forget(attemptID) }
            if lifecycle.leases[attemptID] == nil, isCommitted(attemptID, by: worker.identity) { committed.insert(attemptID) }
        }
        var reattached: [String] = []
        let event = AttemptLifecycle.Event.claimed(attemptIDs: attemptIDs, workerID: workerID, identity: worker.identity, committed: committed, now: now)
        for action in lifecycle.on(event) {
            switch action {
            case .reattach(let attemptID, let workerID, let previousHolder, let wasOrphan):
                bind(attemptID, to: workerID, from: previousHolder, wasOrphan: wasOrphan)
                reattached.append(attemptID)
            case .cancel(let attemptID, _, let reason):
                send(.cancel(Cancel(attemptID: attemptID, reason: reason)), to: worker.peer)
            case .refused(let attemptID, let workerID, let claimant, let owner):
                logger.warning(
                    "refused a worker's claim on an attempt dispatched to another identity",
                    metadata: [
                        "attempt": "\(attemptID)", "worker": "\(workerID)", "claimant": "\(claimant)",
                        "owner": "\(owner.map { "\($0)" } ?? "unknown")",
                    ])
            case .expired:
                break
            }
        }
        let held = Set(attemptIDs).filter { lifecycle.isHeld($0, by: workerID, identity: worker.identity) }.sorted()
        for attemptID in held { workers[workerID]!.running.insert(attemptID) }
        return (held, reattached)
    }

    /// An attempt as the scheduler counts it on the worker that holds it: its requirement and the
    /// GPUs its record says it was leased.
    func held(_ attemptID: String) -> Scheduler.Held {
        guard let attempt = attempts[attemptID] else { return Scheduler.Held(attemptID: attemptID) }
        let devices = attempt.record?.gpuDevices?.split(separator: ",").compactMap { Int($0) } ?? []
        return Scheduler.Held(attemptID: attemptID, need: requirement(runID: attempt.runID, step: attempt.step), gpuDevices: devices)
    }

    /// Records that an attempt the lifecycle re-attached now runs on `workerID` (service state and
    /// rows; the caller tells the scheduler).
    private func bind(_ attemptID: String, to workerID: String, from previousHolder: String?, wasOrphan: Bool) {
        guard var attempt = attempts[attemptID], workers[workerID] != nil else { return }
        if let previousHolder, previousHolder != workerID { workers[previousHolder]?.running.remove(attemptID) }
        if wasOrphan {
            logger.info("re-attached a running attempt", metadata: ["attempt": "\(attemptID)", "worker": "\(workerID)"])
        }
        if var record = attempt.record, record.worker != workerID {
            record.worker = workerID
            attempt.record = record
            batch.save(record, urgent: false)
        }
        attempts[attemptID] = attempt
        workers[workerID]!.running.insert(attemptID)
        if var step = runs[attempt.runID]?.steps[attempt.step], step.worker != workerID {
            step.worker = workerID
            runs[attempt.runID]!.steps[attempt.step] = step
            batch.update(step, urgent: false)
        }
    }

    /// A worker's heartbeat names the attempts it holds: confirms its own, re-attaches orphans of
    /// its identity, and cancels any it may not keep.
    func reconcile(_ attemptIDs: [String], workerID: String, now: Int64) {
        for attemptID in claim(attemptIDs, workerID: workerID, now: now).reattached {
            for action in scheduler.on(.attach(held(attemptID), workerID: workerID)) { handle(action) }
        }
    }

    /// Any report about an attempt confirms it is alive on its worker.
    func confirm(_ attemptID: String, workerID: String, now: Int64) {
        _ = lifecycle.on(.confirmed(attemptID: attemptID, workerID: workerID, now: now))
    }

    /// The attempt's worker is gone; the attempt may still run there until its lease runs out.
    func orphan(_ attemptID: String, workerName: String, failure: FailureClass, reason: String) {
        if let holder = lifecycle.holder(of: attemptID) { workers[holder]?.running.remove(attemptID) }
        let orphan = AttemptLifecycle.Orphan(workerName: workerName, failure: failure, reason: reason)
        _ = lifecycle.on(.orphaned(attemptID: attemptID, orphan: orphan, now: monotonicNow()))
    }

    /// Gives up attempts whose lease ran out: orphans nobody re-attached, and attempts a
    /// connected worker never confirmed (the dispatch or its reports were lost).
    func expireLeases(now: Int64) {
        for action in lifecycle.on(.tick(now: now)) {
            guard case .expired(let attemptID, let holder, let workerName, let failure, let reason) = action else { continue }
            guard let attempt = attempts[attemptID], runs[attempt.runID]?.currentAttempt[attempt.step] == attemptID else {
                forget(attemptID)
                continue
            }
            if let holder, let peer = workers[holder]?.peer {
                workers[holder]!.running.remove(attemptID)
                send(.cancel(Cancel(attemptID: attemptID, reason: reason)), to: peer)
            }
            forget(attemptID)
            runs[attempt.runID]!.currentAttempt[attempt.step] = nil
            let freed = scheduler.on(.remove(attemptID: attemptID))
            if var record = attempt.record {
                record.status = failure == .coordinatorRestart ? "coordinator_restart" : "lost"
                record.finishedAt = wallNow()
                record.message = reason
                batch.save(record)
            }
            logger.warning("gave up an attempt: \(reason)", metadata: ["run": "\(attempt.runID)", "step": "\(attempt.step)", "attempt": "\(attemptID)"])
            attemptFailed(attempt, failure, reason: reason, worker: workerName)
            for action in freed { handle(action) }
        }
    }

    // MARK: Failures and retries

    /// Classifies a failed attempt's step through the failure policy: retry (now or after a
    /// backoff), fail, or quarantine. The attempt is no longer current when this returns.
    func attemptFailed(_ attempt: ActiveAttempt, _ failure: FailureClass, reason: String, worker: String?) {
        guard runs[attempt.runID] != nil else { return }
        if runs[attempt.runID]!.currentAttempt[attempt.step] == attempt.id {
            runs[attempt.runID]!.currentAttempt[attempt.step] = nil
        }
        forget(attempt.id)
        let retry = runs[attempt.runID]!.planned[attempt.step]?.retry ?? .none
        var history = runs[attempt.runID]!.history[attempt.step] ?? FailurePolicy.History()
        let decision = configuration.failurePolicy.decide(failure, reason: reason, worker: worker, retry: retry, history: &history)
        runs[attempt.runID]!.history[attempt.step] = history
        let metadata: Logger.Metadata = ["run": "\(attempt.runID)", "step": "\(attempt.step)", "failure": "\(failure.rawValue)"]
        switch decision {
        case .retry(let delay, let avoiding):
            let inputs = runs[attempt.runID]!.resolvedInputs[attempt.step] ?? [:]
            if delay <= 0 {
                logger.warning("queueing the step again: \(reason)", metadata: metadata)
                enqueue(runID: attempt.runID, step: attempt.step, inputs: inputs, avoiding: avoiding)
            } else {
                logger.warning("retrying the step in \(delay) ms: \(reason)", metadata: metadata)
                pendingRetries.append((due: wallNow() + delay, runID: attempt.runID, step: attempt.step, avoiding: avoiding))
                if var step = runs[attempt.runID]!.steps[attempt.step] {
                    step.reason = "retrying in \(Self.seconds(delay)) after: \(reason)"
                    runs[attempt.runID]!.steps[attempt.step] = step
                    batch.update(step)
                }
            }
            batch.append(EventRecord(runID: attempt.runID, step: attempt.step, kind: "retry", detail: "\(failure.rawValue): \(reason)", at: wallNow()))
        case .fail(let status, let failReason):
            apply(.failed(step: attempt.step, status: status, reason: failReason), runID: attempt.runID)
        case .quarantine(let quarantineReason):
            logger.error("\(quarantineReason)", metadata: metadata)
            batch.append(EventRecord(runID: attempt.runID, step: attempt.step, kind: "quarantined", detail: quarantineReason, at: wallNow()))
            apply(.failed(step: attempt.step, status: .failed, reason: quarantineReason), runID: attempt.runID)
        case .stop:
            break
        }
    }

    /// Queues the retries whose backoff is over (for steps still waiting for one).
    func queueDueRetries(now: Int64) {
        guard pendingRetries.contains(where: { $0.due <= now }) else { return }
        let due = pendingRetries.filter { $0.due <= now }
        pendingRetries.removeAll { $0.due <= now }
        for retry in due {
            guard let run = runs[retry.runID], run.currentAttempt[retry.step] == nil,
                  let state = run.machine.states[retry.step], !state.status.isFinal else { continue }
            enqueue(runID: retry.runID, step: retry.step, inputs: run.resolvedInputs[retry.step] ?? [:], avoiding: retry.avoiding)
        }
    }

    static func seconds(_ milliseconds: Int64) -> String {
        milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : String(format: "%.1f s", Double(milliseconds) / 1000)
    }

    /// Whether a success of this attempt, dispatched to `identity`, is recorded. A success recorded
    /// for another identity does not count: nobody else may hear it acknowledged.
    func isCommitted(_ attemptID: String, by identity: WorkerIdentity) -> Bool {
        if let owner = committedAttempts[attemptID] { return owner == identity }
        guard let record = (try? store.attempt(id: attemptID)) ?? nil, record.status == AttemptOutcome.succeeded.rawValue else { return false }
        return Self.owner(of: record) == identity
    }

    func rememberCommitted(_ attemptID: String, by identity: WorkerIdentity) {
        if committedAttempts.count >= 100_000 { committedAttempts.removeAll(keepingCapacity: true) }
        committedAttempts[attemptID] = identity
    }

    // MARK: Draining

    /// Asks a worker to drain: it takes nothing new, finishes its running attempts, hands back
    /// those waiting, and leaves. `name` is a worker id or name.
    public func drain(worker name: String) throws {
        guard let id = workers[name] != nil ? name : workers.values.filter({ $0.name == name }).map(\.id).sorted().first else {
            throw CoordinatorError(.notFound, "no connected worker \(name); `conduit workers` lists them")
        }
        markDraining(id, reason: "drain requested")
        send(.drain(Drain(reason: "drain requested")), to: workers[id]!.peer)
        flushOutbox()
    }

    func markDraining(_ workerID: String, reason: String) {
        guard workers[workerID] != nil, !workers[workerID]!.draining else { return }
        workers[workerID]!.draining = true
        logger.info("worker draining: \(reason)", metadata: ["worker": "\(workerID)"])
        for action in scheduler.on(.drain(id: workerID)) { handle(action) }
        bump()
    }

    // MARK: Disk space

    /// Pauses dispatching (and answering uploads) while the data directory's file system has
    /// less than `minimumFreeBytes` free, and resumes once it has enough again.
    func checkDiskSpace() {
        guard let free = configuration.freeSpace(configuration.dataDirectory) else { return }
        // Uploads waiting for space are begun again one by one as they fit (retryDeferredUploads):
        // one that never fits must not keep the whole coordinator paused.
        let minimum = configuration.minimumFreeBytes
        defer { retryDeferredUploads() }
        if free < minimum {
            guard dispatchPause == nil else { return }
            let reason = "the coordinator's disk is full: \(free >> 20) MiB free under \(configuration.dataDirectory), at least \(minimum >> 20) MiB needed; dispatching is paused until space is freed"
            dispatchPause = reason
            logger.error("\(reason)")
            _ = scheduler.on(.pause(true))
            bump()
        } else if dispatchPause != nil {
            dispatchPause = nil
            logger.notice("disk space is back (\(free >> 20) MiB free); dispatching resumes")
            for action in scheduler.on(.pause(false)) { handle(action) }
            bump()
        }
    }

    // MARK: Restart

    /// Picks up every run an earlier coordinator process left running. Completed steps keep
    /// their outputs; an attempt that was dispatched becomes an orphan for the grace period (the
    /// loss timeout), in which its worker re-attaches it by registering again; other ready steps
    /// are queued again. A run that cannot be rebuilt (its plan or code is gone) ends as failed,
    /// so no run stays running forever.
    func restoreRuns() {
        let unfinished: [RunRecord]
        do {
            unfinished = try store.unfinishedRuns()
        } catch {
            logger.error("could not read the runs left running: \(error)")
            return
        }
        do {
            let closed = try store.closeAttemptsOfEndedRuns(status: "coordinator_restart", message: Self.unrecordedOutcome, at: wallNow())
            if closed > 0 { logger.warning("closed \(closed) attempt rows of ended runs that an earlier process left open") }
        } catch {
            logger.error("could not close the attempt rows of ended runs left open: \(error)")
        }
        let now = monotonicNow()
        for record in unfinished {
            do {
                try restore(record, now: now)
            } catch {
                logger.error("could not restore run \(record.id): \(error); it ends as failed")
                runs[record.id] = nil
                failUnrestorable(record, reason: "the coordinator restarted and could not restore the run: \(error)")
            }
        }
        if !unfinished.isEmpty {
            logger.notice("restored \(unfinished.count) run(s) left running; waiting \(configuration.lossTimeoutMilliseconds / 1000) s for workers to re-attach their attempts")
        }
    }

    private func restore(_ record: RunRecord, now: Int64) throws {
        let request: SubmitRequest
        let plan: PipelinePlan
        do {
            request = try JSONDecoder().decode(SubmitRequest.self, from: Data(record.submissionJSON.utf8))
            plan = try JSONDecoder().decode(PipelinePlan.self, from: Data(request.planJSON.utf8))
        } catch {
            throw CoordinatorError(.storage, "its submission does not decode: \(error)")
        }
        var codeManifests: [String: CacheManifest.Code] = [:]
        for (step, digest) in request.code {
            codeManifests[step] = try codeSnapshot(digest: digest, step: step)
        }
        let nodes = try Self.nodes(of: plan, localInputs: request.localInputs)
        var steps: [String: StepRecord] = [:]
        var saved: [String: RunMachine.SavedStep] = [:]
        for step in try store.steps(runID: record.id) {
            steps[step.name] = step
            let outputs = step.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
            saved[step.name] = RunMachine.SavedStep(status: step.status, outputs: outputs, reused: step.reused, reason: step.reason)
        }
        var run = ActiveRun(
            record: record, plan: plan,
            machine: RunMachine(nodes: nodes, continueOnStepFailure: plan.settings.continueOnStepFailure, restoring: saved),
            steps: steps, planned: Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.name, $0) }),
            codeManifests: codeManifests, force: Set(request.force)
        )
        // Read again from the configuration; a run already accepted is never failed for it.
        for step in plan.steps { run.requirements[step.name] = requirement(of: step, runID: record.id) }
        // A bayesian trial that became ready runs the point its manifest records, not the plan's stand-in.
        Self.restorePoints(of: &run)
        // The failure history and the attempts that may still be running.
        var holding: Set<String> = []
        for attempt in try store.attempts(runID: record.id) {
            var history = run.history[attempt.step] ?? FailurePolicy.History()
            switch attempt.status {
            case AttemptOutcome.failed.rawValue, AttemptOutcome.timedOut.rawValue: history.userFailures += 1
            case AttemptOutcome.workerError.rawValue: history.workerErrors += 1
            case "lost", AttemptOutcome.fenced.rawValue:
                if !history.lostWorkers.contains(attempt.worker) { history.lostWorkers.append(attempt.worker) }
            default: break
            }
            run.history[attempt.step] = history
            guard attempt.status == "dispatched" || attempt.status == "running" else { continue }
            guard let state = saved[attempt.step], state.status == .queued || state.status == .running else {
                // Its step is over, so it is too, though its outcome was never written.
                closeUnrecorded(attempt)
                continue
            }
            // The latest dispatched attempt of a step is the one that may still run; an earlier one
            // is over.
            if let earlier = run.currentAttempt[attempt.step] {
                if let record = self.attempts[earlier]?.record { closeUnrecorded(record) }
                forget(earlier)
            }
            run.currentAttempt[attempt.step] = attempt.id
            holding.insert(attempt.step)
            self.attempts[attempt.id] = ActiveAttempt(id: attempt.id, runID: record.id, step: attempt.step, record: attempt)
            let orphan = AttemptLifecycle.Orphan(
                workerName: attempt.worker, failure: .coordinatorRestart,
                reason: "the coordinator restarted while worker \(attempt.worker) ran the attempt")
            _ = lifecycle.on(.restored(attemptID: attempt.id, owner: Self.owner(of: attempt), orphan: orphan, now: now))
        }
        for node in nodes where holding.contains(node.name) {
            var inputs = run.machine.inputs(of: node)
            // Datastore inputs were read when the step became ready: the attempt (and a retry of it)
            // reads what its manifest recorded.
            if let json = steps[node.name]?.manifestJSON, let manifest = CacheManifest.decode(json: json) {
                for input in run.planned[node.name]?.inputs ?? [] where input.datastoreURI != nil {
                    if let digest = manifest.inputs[input.name]?.digest { inputs[input.name] = digest }
                }
            }
            run.resolvedInputs[node.name] = inputs
        }
        let actions = run.machine.resume(holding: holding)
        runs[record.id] = run
        logger.info("restored run", metadata: ["run": "\(record.id)", "attempts": "\(holding.count)"])
        perform(actions, runID: record.id)
        persist(runID: record.id)
        bump()
    }

    /// Why a row is closed at start for an attempt that is over but was never given an outcome.
    static let unrecordedOutcome = "the attempt ended but its outcome was never recorded (the coordinator could not write it); closed when the coordinator restarted"

    /// Closes the row of an attempt that is over but whose outcome an earlier process never wrote:
    /// `coordinator_restart`, saying so.
    private func closeUnrecorded(_ record: AttemptRecord) {
        var record = record
        record.status = "coordinator_restart"
        record.finishedAt = wallNow()
        record.message = Self.unrecordedOutcome
        batch.save(record)
        logger.warning("closed an attempt's row left open by an earlier process", metadata: ["run": "\(record.runID)", "step": "\(record.step)", "attempt": "\(record.id)"])
    }

    /// The identity a recorded attempt was dispatched to. Rows written before identities were
    /// recorded name only the worker; they can be re-attached only in plain-text mode, by that name.
    static func owner(of attempt: AttemptRecord) -> WorkerIdentity {
        if let stored = attempt.workerIdentity, let identity = WorkerIdentity(stored: stored) { return identity }
        let name = attempt.worker.split(separator: "#", maxSplits: 1).first.map(String.init) ?? attempt.worker
        return .unauthenticated(name: name)
    }

    private func failUnrestorable(_ record: RunRecord, reason: String) {
        var run = record
        let now = wallNow()
        for var step in (try? store.steps(runID: run.id)) ?? [] where !step.status.isFinal {
            step.status = .canceled
            step.reason = reason
            step.finishedAt = now
            batch.update(step)
        }
        run.status = .failed
        run.reason = reason
        run.finishedAt = now
        batch.update(run)
        batch.append(EventRecord(runID: run.id, step: nil, kind: "failed", detail: reason, at: now))
    }
}
