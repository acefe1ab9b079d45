import Foundation
import Protocol

/// Leases, finish reports that wait for acknowledgement, and draining.
extension WorkerService {
    /// Sends a finish report and keeps it until the coordinator acknowledges it.
    func deliver(_ report: AttemptFinished) {
        pendingReports[report.attemptID] = PendingReport(report: report, sentAt: monotonicNow())
        send(.attemptFinished(report))
    }

    /// Sends unacknowledged reports again: those sent more than a heartbeat interval ago, or
    /// all of them (after registering again).
    func resendReports(now: Int64, all: Bool = false) {
        let interval = configuration.heartbeatInterval.milliseconds
        for id in pendingReports.keys.sorted() {
            guard var pending = pendingReports[id], all || now - pending.sentAt >= interval else { continue }
            pending.sentAt = now
            pendingReports[id] = pending
            send(.attemptFinished(pending.report))
        }
    }

    /// Self-fencing: an attempt whose lease the coordinator has not renewed in time is killed
    /// at once (the whole process group, no grace period) and its result is discarded, because
    /// the coordinator may already have sent the step elsewhere.
    func fenceExpiredLeases(now: Int64) {
        for id in leases.expired(now: now) {
            let reason = "lease not renewed for \(Double(leases.timeoutMilliseconds) / 1000) s"
            if let index = waitingAttempts.firstIndex(where: { $0.attemptID == id }) {
                waitingAttempts.remove(at: index)
                running[id] = nil
                leases.release(id)
                logger.warning("fenced a waiting attempt: \(reason)", metadata: ["attempt": "\(id)"])
            } else if var attempt = running[id] {
                guard !attempt.fenced else { continue }
                attempt.fenced = true
                running[id] = attempt
                logger.warning("fencing: killing the attempt's processes and discarding its outputs: \(reason)", metadata: ["attempt": "\(id)"])
                attempt.process?.terminateGroup(gracePeriod: .zero)
            } else {
                if pendingReports.removeValue(forKey: id) != nil {
                    logger.warning("discarded an unacknowledged result: \(reason)", metadata: ["attempt": "\(id)"])
                }
                leases.release(id)
            }
        }
    }

    /// Reports an attempt handed back without running it.
    func report(handingBack attemptID: String, reason: String) {
        let now = Self.now()
        deliver(AttemptFinished(attemptID: attemptID, outcome: .handedBack, startedAt: now, endedAt: now, message: reason))
    }

    /// Starts draining: nothing new is taken, attempts waiting for a slot are handed back, and
    /// running ones may finish until `drainTimeout`; then the worker leaves.
    func beginDrain(reason: String, announce: Bool) {
        guard draining == nil else {
            // A second request (a second SIGTERM) stops at once.
            if announce, let current = draining {
                var sooner = current
                sooner.deadline = monotonicNow()
                draining = sooner
                checkDrain(sooner, now: monotonicNow())
            }
            return
        }
        let now = monotonicNow()
        let state = DrainState(reason: reason, deadline: now + configuration.drainTimeout.milliseconds)
        draining = state
        logger.notice("draining: \(reason); running attempts may finish for up to \(configuration.drainTimeout.milliseconds / 1000) s")
        if announce, workerID != nil { send(.drain(Drain(reason: reason))) }
        let waiting = waitingAttempts
        waitingAttempts.removeAll()
        for dispatch in waiting {
            running[dispatch.attemptID] = nil
            report(handingBack: dispatch.attemptID, reason: "the worker is draining (\(reason))")
        }
        checkDrain(state, now: now)
    }

    /// Leaves once nothing runs and every report is acknowledged (waiting at most 5 s for the
    /// acknowledgements); past the deadline, stops the attempts still running and hands them back.
    func checkDrain(_ state: DrainState, now: Int64) {
        if running.isEmpty {
            var state = state
            let idleSince = state.idleSince ?? now
            state.idleSince = idleSince
            draining = state
            if pendingReports.isEmpty || now - idleSince >= 5000, !state.leaving {
                state.leaving = true
                draining = state
                logger.notice("drained; leaving")
                dispatchContinuation.finish()
                transport.close()
            }
        } else if now >= state.deadline {
            for (id, attempt) in running where !attempt.handedBack {
                running[id]?.handedBack = true
                logger.warning("drain deadline reached: stopping the attempt and handing it back", metadata: ["attempt": "\(id)"])
                attempt.process?.terminateGroup(gracePeriod: configuration.killGracePeriod)
            }
        }
    }
}
