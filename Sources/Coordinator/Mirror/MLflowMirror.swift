import Foundation
import Logging
import Protocol
import ServiceLifecycle
import Spec
import Store

/// Mirrors each attempt's tracking to a user's MLflow server: one MLflow run per attempt, with its
/// metric history, params and tags, ended with the attempt's outcome.
///
/// A separate service that reads what the coordinator has recorded (`metric_points`,
/// `tracked_values`, `attempts`), so a slow or down server never slows or fails a step: it retries
/// with backoff, says once in the log that it is behind, and shows how far behind in
/// ``MLflowMirrorMonitor``. What was sent is remembered in the store (`mlflow_mirror`) after each
/// request the server accepted, so a restarted coordinator goes on without sending values again.
public struct MLflowMirror: Service {
    /// How the mirror paces itself.
    public struct Settings: Sendable {
        /// How often the store is read for new values when nothing was left to send; default 1 s.
        public var pollInterval: Duration
        /// The first wait after a failed request, doubled after each further failure up to
        /// `maximumBackoff`; defaults 1 s and 30 s.
        public var initialBackoff: Duration
        public var maximumBackoff: Duration

        public init(pollInterval: Duration = .seconds(1), initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(30)) {
            precondition(pollInterval > .zero && initialBackoff > .zero && maximumBackoff >= initialBackoff, "MLflowMirror.Settings: durations must be positive")
            self.pollInterval = pollInterval
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
        }
    }

    let store: ConduitStore
    let api: any MLflowTrackingAPI
    let monitor: MLflowMirrorMonitor
    let settings: Settings
    let logger: Logger
    let wallMilliseconds: @Sendable () -> Int64

    /// A mirror of what `service` records, sent through `api`.
    public init(
        service: CoordinatorService, api: any MLflowTrackingAPI, monitor: MLflowMirrorMonitor, settings: Settings = Settings(), logger: Logger
    ) {
        self.store = service.store
        self.api = api
        self.monitor = monitor
        self.settings = settings
        self.logger = logger
        self.wallMilliseconds = service.configuration.clock.wallMilliseconds
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await loop() }
    }

    /// Experiment ids by name, and experiment names by Conduit run: looked up once.
    struct Memory {
        var experiments: [String: String] = [:]
        var runExperiments: [String: String] = [:]
    }

    func loop() async {
        var memory = Memory()
        var backoff = settings.initialBackoff
        var failing = false
        while !Task.isCancelled {
            do {
                let sent = try await pass(&memory)
                let behind = (try? store.attemptsBehindMirror()) ?? 0
                if failing {
                    logger.notice("MLflow mirror: \(monitor.current.trackingURI) answers again; catching up (\(behind) attempts behind)")
                    failing = false
                }
                monitor.update {
                    $0.state = behind == 0 ? "up_to_date" : "sending"
                    $0.attemptsBehind = behind
                    $0.behindSince = nil
                    $0.lastError = nil
                }
                backoff = settings.initialBackoff
                if !sent { try await Task.sleep(for: settings.pollInterval) }
            } catch is CancellationError {
                return
            } catch {
                let message = (error as? MLflowMirrorError)?.message ?? "the store: \(error)"
                let behind = (try? store.attemptsBehindMirror()) ?? 0
                if !failing {
                    // Said once per outage; the status keeps saying it.
                    logger.warning("MLflow mirror is behind (\(behind) attempts): \(message); retrying, steps are not affected")
                    failing = true
                }
                let now = wallMilliseconds()
                monitor.update {
                    $0.state = "behind"
                    $0.attemptsBehind = behind
                    $0.behindSince = $0.behindSince ?? now
                    $0.lastError = message
                }
                do { try await Task.sleep(for: backoff) } catch { return }
                backoff = min(backoff * 2, settings.maximumBackoff)
            }
        }
    }

    /// Sends what is new of the attempts not fully mirrored yet; whether anything was sent.
    func pass(_ memory: inout Memory) async throws -> Bool {
        var sent = false
        for (attempt, mirrored) in try store.attemptsToMirror(limit: 100) {
            try Task.checkCancellation()
            if try await mirror(attempt, mirrored, &memory) { sent = true }
        }
        return sent
    }

    /// Sends what is new of one attempt; whether anything was sent.
    func mirror(_ attempt: AttemptRecord, _ mirrored: MLflowMirrorRecord?, _ memory: inout Memory) async throws -> Bool {
        // Read before the values: an attempt that had ended then has recorded all its values.
        let endStatus = MLflowMirrorPlanner.runStatus(attemptStatus: attempt.status)
        var sent = false
        var record: MLflowMirrorRecord
        if let mirrored {
            record = mirrored
        } else {
            record = try await createRun(for: attempt, &memory)
            try store.saveMirror(record)
            sent = true
        }
        let metadata: Logger.Metadata = ["run": "\(attempt.runID)", "step": "\(attempt.step)", "attempt": "\(attempt.id)", "mlflow_run": "\(record.mlflowRunID)"]
        while true {
            let points = try store.metricPoints(attemptID: attempt.id, after: record.lastPointSeq, limit: MLflowMirrorPlanner.maximumMetricsPerBatch)
            guard let last = points.last?.seq else { break }
            for metrics in MLflowMirrorPlanner.metricBatches(points) {
                try await send(metadata) { () async throws(MLflowMirrorError) in
                    try await api.logBatch(runID: record.mlflowRunID, metrics: metrics, params: [], tags: [])
                }
            }
            record.lastPointSeq = last
            try store.saveMirror(record)
            sent = true
        }
        let already = (try? JSONDecoder().decode([String: String].self, from: Data(record.sentValuesJSON.utf8))) ?? [:]
        let (batches, nowSent) = MLflowMirrorPlanner.valueBatches(try store.trackedValues(attemptID: attempt.id), sent: already)
        if !batches.isEmpty {
            for batch in batches {
                try await send(metadata) { () async throws(MLflowMirrorError) in
                    try await api.logBatch(runID: record.mlflowRunID, metrics: [], params: batch.params, tags: batch.tags)
                }
            }
            record.sentValuesJSON = String(decoding: try JSONEncoder().encode(nowSent), as: UTF8.self)
            try store.saveMirror(record)
            sent = true
        }
        if let endStatus {
            let endTime = attempt.finishedAt ?? wallMilliseconds()
            try await send(metadata) { () async throws(MLflowMirrorError) in
                try await api.endRun(runID: record.mlflowRunID, status: endStatus, endTime: endTime)
            }
            record.ended = true
            try store.saveMirror(record)
            sent = true
        }
        return sent
    }

    /// The MLflow run of an attempt: found by its tags when an earlier coordinator created it but
    /// stopped before remembering it, else created.
    func createRun(for attempt: AttemptRecord, _ memory: inout Memory) async throws -> MLflowMirrorRecord {
        let name = try experimentName(of: attempt.runID, &memory)
        let experiment: String
        if let known = memory.experiments[name] {
            experiment = known
        } else {
            experiment = try await api.experimentID(named: name)
            memory.experiments[name] = experiment
        }
        let number = AttemptName(parsing: attempt.id)?.number ?? 0
        let identity = MLflowMirrorPlanner.identityTags(runID: attempt.runID, step: attempt.step, attempt: number)
        let runID: String
        if let found = try await api.findRun(experimentID: experiment, tags: identity) {
            runID = found
        } else {
            var tags = identity
            tags["mlflow.runName"] = MLflowMirrorPlanner.runName(step: attempt.step, attempt: number)
            runID = try await api.createRun(experimentID: experiment, startTime: attempt.startedAt ?? attempt.dispatchedAt, tags: tags)
        }
        logger.debug("MLflow mirror: attempt \(attempt.id) is MLflow run \(runID) in experiment \(name)", metadata: ["run": "\(attempt.runID)", "step": "\(attempt.step)"])
        return MLflowMirrorRecord(attemptID: attempt.id, mlflowRunID: runID)
    }

    /// The experiment a Conduit run's attempts are mirrored to.
    func experimentName(of runID: String, _ memory: inout Memory) throws -> String {
        if let known = memory.runExperiments[runID] { return known }
        var name = "Default"
        if let run = try store.run(id: runID),
           let request = try? JSONDecoder().decode(SubmitRequest.self, from: Data(run.submissionJSON.utf8)),
           let plan = try? JSONDecoder().decode(PipelinePlan.self, from: Data(request.planJSON.utf8)) {
            name = MLflowMirrorPlanner.experimentName(experimentName: plan.experimentName, sourceFile: plan.sourceFile)
        }
        if memory.runExperiments.count > 10_000 { memory.runExperiments.removeAll() }
        memory.runExperiments[runID] = name
        return name
    }

    /// Makes a request; one the server refuses is logged and skipped (sending it again would not
    /// help), any other failure is thrown, to be retried.
    func send(_ metadata: Logger.Metadata, _ request: () async throws(MLflowMirrorError) -> Void) async throws(MLflowMirrorError) {
        do throws(MLflowMirrorError) {
            try await request()
        } catch where error.code == .rejected {
            logger.warning("MLflow mirror: the server refused values, which are left out: \(error.message)", metadata: metadata)
        }
    }
}
