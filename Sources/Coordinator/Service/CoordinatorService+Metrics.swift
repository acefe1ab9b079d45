extension CoordinatorService {
    /// The gauges `/metrics` shows, computed from the coordinator's state now: queue depth and the
    /// oldest waiting attempt per label, connected workers with their slots and GPUs.
    public func metricsSnapshot() -> CoordinatorMetricsSnapshot {
        let now = monotonicNow()
        var queues: [String: CoordinatorMetricsSnapshot.Queue] = [:]
        for worker in workers.values {
            for label in worker.capabilities.labels where queues[label] == nil {
                queues[label] = .init(label: label, depth: 0, oldestWaitingSeconds: 0)
            }
        }
        for pending in scheduler.queue {
            let label = pending.label ?? ""
            var queue = queues[label] ?? .init(label: label, depth: 0, oldestWaitingSeconds: 0)
            queue.depth += 1
            if let since = queuedAt[pending.attemptID] {
                queue.oldestWaitingSeconds = max(queue.oldestWaitingSeconds, Double(max(0, now - since)) / 1000)
            }
            queues[label] = queue
        }
        let connected = workers.values.sorted { $0.id < $1.id }.map { worker in
            let placed = scheduler.workers[worker.id]
            return CoordinatorMetricsSnapshot.Worker(
                id: worker.id, name: worker.name, slots: placed?.capacity.slots ?? worker.capabilities.slots,
                slotsLeased: placed?.running.count ?? worker.running.count, gpus: placed?.capacity.gpus.count ?? worker.capabilities.gpus.count,
                gpusLeased: placed?.leasedGPUs.count ?? 0, draining: placed?.draining ?? worker.draining)
        }
        return CoordinatorMetricsSnapshot(
            queues: queues.values.sorted { $0.label < $1.label }, workers: connected, activeRuns: runs.count)
    }
}
