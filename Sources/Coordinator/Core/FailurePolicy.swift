import Protocol
import Spec

/// Why an attempt did not succeed, as the coordinator classifies it.
public enum FailureClass: String, Sendable, Hashable, CaseIterable {
    /// The command exited non-zero or was killed by a signal it did not get from Conduit.
    case userExit = "user_exit"
    /// It ran past `limits.timeout`.
    case timeout
    /// Its worker was lost (connection dropped, silent, or its lease ran out).
    case workerLost = "worker_lost"
    /// The worker could not run it or store its outputs (inputs unavailable, disk full, …).
    case workerError = "worker_error"
    /// The coordinator restarted and no worker reported the attempt within the grace period.
    case coordinatorRestart = "coordinator_restart"
    /// The worker was draining and gave the attempt back.
    case handedBack = "handed_back"
    /// The user canceled the run, or another step's failure stopped it.
    case canceled

    /// Failures of the machinery rather than of the step: retried without being asked.
    public var isInfrastructure: Bool {
        switch self {
        case .workerLost, .workerError, .coordinatorRestart, .handedBack: true
        case .userExit, .timeout, .canceled: false
        }
    }
}

/// Decides what happens to a step after an attempt failed. Pure.
public struct FailurePolicy: Sendable, Hashable {
    /// Attempts that the worker could not run (`workerError`) before the step fails; default 3.
    public var maximumWorkerErrors: Int
    /// Distinct lost workers after which a step is quarantined (not sent again); default 3.
    public var quarantineAfterLostWorkers: Int
    /// The longest backoff, whatever the retry block asks; default 1 h.
    public var maximumBackoffMilliseconds: Int64

    public init(maximumWorkerErrors: Int = 3, quarantineAfterLostWorkers: Int = 3, maximumBackoffMilliseconds: Int64 = 3_600_000) {
        self.maximumWorkerErrors = max(1, maximumWorkerErrors)
        self.quarantineAfterLostWorkers = max(1, quarantineAfterLostWorkers)
        self.maximumBackoffMilliseconds = maximumBackoffMilliseconds
    }

    /// What a step has been through so far in this run.
    public struct History: Sendable, Hashable {
        public var userFailures = 0
        public var workerErrors = 0
        /// Workers lost while they held one of the step's attempts, in order, without repeats.
        public var lostWorkers: [String] = []
        public init() {}
    }

    public enum Decision: Sendable, Hashable {
        /// Queue a new attempt after this delay; keep it off `avoiding` if another worker can take it.
        case retry(afterMilliseconds: Int64, avoiding: String?)
        /// The step failed for good (with `timedOut` when the last failure was a timeout).
        case fail(status: StepStatus, reason: String)
        /// The step kept losing workers: it is failed and never sent again.
        case quarantine(reason: String)
        /// Nothing to retry (canceled).
        case stop
    }

    /// Records the failure in `history` and decides. `worker` is the worker that held the attempt.
    public func decide(_ failure: FailureClass, reason: String, worker: String?, retry: RetrySettings, history: inout History) -> Decision {
        switch failure {
        case .canceled:
            return .stop
        case .userExit, .timeout:
            history.userFailures += 1
            let status: StepStatus = failure == .timeout ? .timedOut : .failed
            guard history.userFailures < retry.attempts else {
                let tries = retry.attempts > 1 ? " (tried \(history.userFailures) times, as retry.attempts allows)" : ""
                return .fail(status: status, reason: reason + tries)
            }
            var delay = Double(retry.backoffMilliseconds)
            for _ in 1..<history.userFailures { delay *= retry.factor }
            return .retry(afterMilliseconds: Int64(min(delay, Double(maximumBackoffMilliseconds))), avoiding: nil)
        case .workerError:
            history.workerErrors += 1
            guard history.workerErrors < maximumWorkerErrors else {
                return .fail(status: .failed, reason: "\(reason) (\(history.workerErrors) worker errors)")
            }
            return .retry(afterMilliseconds: 0, avoiding: worker)
        case .workerLost:
            if let worker, !history.lostWorkers.contains(worker) { history.lostWorkers.append(worker) }
            guard history.lostWorkers.count < quarantineAfterLostWorkers else {
                let names = history.lostWorkers.joined(separator: ", ")
                return .quarantine(reason: "quarantined: \(history.lostWorkers.count) workers were lost while running this step (\(names)); it is not sent again. Last: \(reason)")
            }
            return .retry(afterMilliseconds: 0, avoiding: worker)
        case .coordinatorRestart, .handedBack:
            return .retry(afterMilliseconds: 0, avoiding: failure == .handedBack ? worker : nil)
        }
    }
}
