import Coordinator
import Prometheus

/// `GET /metrics`: the coordinator's metrics in the Prometheus text format.
///
/// Counters and histograms come from the daemon's registry (the coordinator records them through
/// swift-metrics); gauges are computed from ``CoordinatorMetricsSnapshot`` at each scrape, into a
/// registry made for that scrape, so that a worker that left or a label no longer queued leaves no
/// stale series behind. See docs/operations.md for every metric.
public enum MetricsExposition {
    /// The content type of the Prometheus text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The exposition of `registry` (nil: none) followed by the gauges of `snapshot`.
    public static func render(_ snapshot: CoordinatorMetricsSnapshot, registry: PrometheusCollectorRegistry?) -> [UInt8] {
        var buffer: [UInt8] = []
        registry?.emit(into: &buffer)
        let gauges = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            let descriptor = MetricNameDescriptor(namespace: "conduit", metricName: name, unitName: unit, helpText: help)
            return labels.isEmpty ? gauges.makeGauge(descriptor: descriptor) : gauges.makeGauge(descriptor: descriptor, labels: labels)
        }
        gauge("runs", "active", "Runs submitted and not yet ended.").set(to: Double(snapshot.activeRuns))
        gauge("workers", "connected", "Workers connected now.").set(to: Double(snapshot.workers.count))
        for queue in snapshot.queues {
            let labels = [("label", queue.label)]
            gauge("queue", "depth", "Attempts waiting for a worker, by the worker label they need (empty: any worker).", labels)
                .set(to: Double(queue.depth))
            gauge("queue_oldest_waiting", "seconds", "How long the attempt waiting longest has waited, by label.", labels)
                .set(to: queue.oldestWaitingSeconds)
        }
        for worker in snapshot.workers {
            func labels(_ state: String) -> [(String, String)] { [("worker", worker.id), ("name", worker.name), ("state", state)] }
            let slotsHelp = "A connected worker's slots, free or leased to attempts."
            gauge("worker", "slots", slotsHelp, labels("free")).set(to: Double(worker.slotsFree))
            gauge("worker", "slots", slotsHelp, labels("leased")).set(to: Double(worker.slotsLeased))
            let gpusHelp = "A connected worker's GPUs, free or leased to attempts."
            gauge("worker", "gpus", gpusHelp, labels("free")).set(to: Double(worker.gpusFree))
            gauge("worker", "gpus", gpusHelp, labels("leased")).set(to: Double(worker.gpusLeased))
            gauge("worker", "draining", "1 while the worker drains (takes nothing new).", [("worker", worker.id), ("name", worker.name)])
                .set(to: worker.draining ? 1.0 : 0.0)
        }
        gauges.emit(into: &buffer)
        return buffer
    }
}
