import CoreMetrics
import Protocol

/// The coordinator's counters and histograms, made through the swift-metrics factory of its
/// configuration (see ``CoordinatorConfiguration/metricsFactory``).
///
/// The factory is passed in rather than read from `MetricsSystem`, so that every coordinator of a
/// process (tests start many) records into its own registry. Names follow Prometheus: `conduit_`,
/// the unit in the name, `_total` on counters. Gauges (queues, workers) are not here: they are read
/// from the coordinator's state when scraped (see ``CoordinatorService/metricsSnapshot()``).
public struct CoordinatorMetrics: Sendable {
    /// Runs that ended, by outcome (`completed`, `failed`, `canceled`).
    public static let runs = "conduit_runs_total"
    /// Steps that ended, by outcome (a step status) and whether their result was reused.
    public static let steps = "conduit_steps_total"
    /// Cache decisions, by result (`hit`, `miss`).
    public static let cacheLookups = "conduit_cache_lookups_total"
    /// From enqueueing an attempt to dispatching it to a worker.
    public static let dispatchLatency = "conduit_dispatch_latency_seconds"
    /// From an attempt's start to its end on the worker, by outcome.
    public static let stepDuration = "conduit_step_duration_seconds"
    /// Artifact bytes between workers and the coordinator, by direction (`upload`: worker to
    /// coordinator, `fetch`: coordinator to worker).
    public static let transferBytes = "conduit_transfer_bytes_total"
    /// One store transaction (a batch of transitions) from start to commit.
    public static let storeCommit = "conduit_store_commit_seconds"

    /// Histogram buckets suited to each of the timers above (a step may run for hours, a commit
    /// takes milliseconds), for a Prometheus factory's `durationHistogramBuckets`.
    public static let durationBuckets: [String: [Duration]] = [
        dispatchLatency: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
                          .seconds(1), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600)],
        stepDuration: [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
                       .seconds(300), .seconds(900), .seconds(1800), .seconds(3600), .seconds(7200), .seconds(21600), .seconds(86400)],
        storeCommit: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1)],
    ]

    let factory: any MetricsFactory
    let cacheHits: Counter
    let cacheMisses: Counter
    let uploadedBytes: Counter
    let fetchedBytes: Counter
    let dispatchLatency: Timer
    let storeCommit: Timer

    /// Metrics made by `factory`; none are recorded anywhere without one.
    init(factory: (any MetricsFactory)?) {
        let factory = factory ?? NOOPMetricsHandler.instance
        self.factory = factory
        cacheHits = Counter(label: Self.cacheLookups, dimensions: [("result", "hit")], factory: factory)
        cacheMisses = Counter(label: Self.cacheLookups, dimensions: [("result", "miss")], factory: factory)
        uploadedBytes = Counter(label: Self.transferBytes, dimensions: [("direction", "upload")], factory: factory)
        fetchedBytes = Counter(label: Self.transferBytes, dimensions: [("direction", "fetch")], factory: factory)
        dispatchLatency = Timer(label: Self.dispatchLatency, dimensions: [], factory: factory)
        storeCommit = Timer(label: Self.storeCommit, dimensions: [], factory: factory)
    }

    /// Counts a run that ended.
    func runEnded(_ status: RunStatus) {
        Counter(label: Self.runs, dimensions: [("outcome", status.rawValue)], factory: factory).increment()
    }

    /// Counts a step that ended.
    func stepEnded(_ status: StepStatus, reused: Bool) {
        Counter(label: Self.steps, dimensions: [("outcome", status.rawValue), ("reused", reused ? "true" : "false")], factory: factory)
            .increment()
    }

    /// Records how long an attempt ran on its worker.
    func attemptRan(milliseconds: Int64, outcome: String) {
        Timer(label: Self.stepDuration, dimensions: [("outcome", outcome)], factory: factory)
            .recordMilliseconds(max(0, milliseconds))
    }
}
