/// Places queued attempts on workers with free slots.
///
/// Pure: no I/O, no clock. Attempts are taken in the order they were queued (runs in submission
/// order, steps in plan order), each on the eligible worker with the most free slots. A worker
/// with no labels takes any step; a worker with labels takes steps whose `compute` names one of
/// them, and steps that name no compute. A step no connected worker can take stays queued.
public struct Scheduler: Sendable {
    /// A queued attempt.
    public struct Pending: Sendable, Hashable {
        public var attemptID: String
        /// The label the step's `compute` maps to, or nil for "any worker".
        public var label: String?

        public init(attemptID: String, label: String?) {
            self.attemptID = attemptID
            self.label = label
        }
    }

    /// A worker as the scheduler sees it.
    public struct Slots: Sendable, Hashable {
        public var labels: Set<String>
        public var capacity: Int
        public var running: Set<String>

        public var free: Int { capacity - running.count }

        /// Whether this worker may run a step that asks for `label`.
        public func accepts(_ label: String?) -> Bool {
            guard let label, !labels.isEmpty else { return true }
            return labels.contains(label)
        }
    }

    public enum Event: Sendable, Hashable {
        case workerJoined(id: String, labels: Set<String>, slots: Int)
        /// The worker is gone; its running attempts are reported back as `lost`.
        case workerLeft(id: String)
        case enqueue(Pending)
        /// Drop a queued attempt, or free the slot of a running one.
        case remove(attemptID: String)
    }

    public enum Action: Sendable, Hashable {
        /// Send the attempt to the worker; its slot is now taken.
        case dispatch(attemptID: String, workerID: String)
        /// The attempt was running on a worker that left.
        case lost(attemptID: String, workerID: String)
    }

    public private(set) var workers: [String: Slots] = [:]
    public private(set) var queue: [Pending] = []
    /// attempt → worker, for running attempts.
    public private(set) var placements: [String: String] = [:]
    private var workerOrder: [String] = []

    public init() {}

    public mutating func on(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .workerJoined(let id, let labels, let slots):
            if workers[id] == nil { workerOrder.append(id) }
            workers[id] = Slots(labels: labels, capacity: max(1, slots), running: workers[id]?.running ?? [])
        case .workerLeft(let id):
            guard let slots = workers.removeValue(forKey: id) else { return [] }
            workerOrder.removeAll { $0 == id }
            for attempt in slots.running.sorted() {
                placements[attempt] = nil
                actions.append(.lost(attemptID: attempt, workerID: id))
            }
        case .enqueue(let pending):
            guard placements[pending.attemptID] == nil, !queue.contains(where: { $0.attemptID == pending.attemptID }) else { return [] }
            queue.append(pending)
        case .remove(let attemptID):
            if let worker = placements.removeValue(forKey: attemptID) {
                workers[worker]?.running.remove(attemptID)
            } else {
                queue.removeAll { $0.attemptID == attemptID }
            }
        }
        actions.append(contentsOf: place())
        return actions
    }

    /// Why `pending` is not placed, in words, or nil when a worker could take it now.
    public func waitingReason(label: String?) -> String {
        if workers.isEmpty { return "waiting: no worker connected" }
        if !workers.values.contains(where: { $0.accepts(label) }) {
            return "waiting: needs a worker with label \(label ?? "-"); no such worker connected"
        }
        return "waiting: every eligible worker is busy"
    }

    private mutating func place() -> [Action] {
        guard !queue.isEmpty else { return [] }
        var totalFree = workers.values.reduce(0) { $0 + max(0, $1.free) }
        guard totalFree > 0 else { return [] }
        var actions: [Action] = []
        var remaining: [Pending] = []
        remaining.reserveCapacity(queue.count)
        for (index, pending) in queue.enumerated() {
            if totalFree == 0 {
                remaining.append(contentsOf: queue[index...])
                break
            }
            var best: String?
            var bestFree = 0
            for id in workerOrder {
                guard let slots = workers[id], slots.free > bestFree, slots.accepts(pending.label) else { continue }
                best = id
                bestFree = slots.free
            }
            if let best {
                workers[best]!.running.insert(pending.attemptID)
                placements[pending.attemptID] = best
                totalFree -= 1
                actions.append(.dispatch(attemptID: pending.attemptID, workerID: best))
            } else {
                remaining.append(pending)
            }
        }
        queue = remaining
        return actions
    }
}
