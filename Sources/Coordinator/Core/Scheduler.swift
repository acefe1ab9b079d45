/// Places queued attempts on workers with free slots.
///
/// Pure: no I/O, no clock. Attempts are taken in the order they were queued (runs in submission
/// order, steps in plan order), each on the eligible worker with the most free slots. A worker
/// with no labels takes any step; a worker with labels takes steps whose `compute` names one of
/// them, and steps that name no compute. A step no connected worker can take stays queued.
///
/// A worker may also take `ahead` attempts beyond its slots, which wait on the worker for a free
/// slot (so a short step's slot never idles for a round trip). Those places are used only when no
/// eligible worker has a free slot.
public struct Scheduler: Sendable {
    /// A queued attempt.
    public struct Pending: Sendable, Hashable {
        public var attemptID: String
        /// The label the step's `compute` maps to, or nil for "any worker".
        public var label: String?
        /// A worker to keep the attempt off (the one whose failure it retries), unless no other
        /// connected worker could ever take it.
        public var avoiding: String?

        public init(attemptID: String, label: String?, avoiding: String? = nil) {
            self.attemptID = attemptID
            self.label = label
            self.avoiding = avoiding
        }
    }

    /// A worker as the scheduler sees it.
    public struct Slots: Sendable, Hashable {
        public var labels: Set<String>
        /// Attempts it runs at once.
        public var capacity: Int
        /// Attempts it may hold beyond `capacity`, waiting for a slot.
        public var ahead = 0
        /// Attempts placed on it and not yet removed: running, or waiting there.
        public var running: Set<String>
        /// Draining: it finishes what it holds and takes nothing new.
        public var draining = false

        /// Free slots (negative while attempts wait on the worker); none while draining.
        public var free: Int { draining ? min(0, capacity - running.count) : capacity - running.count }
        /// Free slots plus free places to wait; none while draining.
        public var room: Int { draining ? 0 : capacity + ahead - running.count }

        /// Whether this worker may run a step that asks for `label`.
        public func accepts(_ label: String?) -> Bool {
            guard let label, !labels.isEmpty else { return true }
            return labels.contains(label)
        }
    }

    public enum Event: Sendable, Hashable {
        /// A worker registered; `holding` are attempts it already runs (re-attached after a
        /// reconnect or a coordinator restart), which take its slots before anything is placed.
        case workerJoined(id: String, labels: Set<String>, slots: Int, holding: [String] = [])
        /// How many attempts the worker may hold beyond its slots (0 when it joins).
        case setAhead(id: String, count: Int)
        /// The worker is gone; its running attempts are reported back as `lost`.
        case workerLeft(id: String)
        case enqueue(Pending)
        /// Drop a queued attempt, or free the slot of a running one.
        case remove(attemptID: String)
        /// The attempt is already running on the worker (re-attached after a reconnect or a
        /// coordinator restart): it takes a slot there, even beyond the worker's capacity.
        case attach(attemptID: String, workerID: String)
        /// The worker takes nothing new (it drains and will leave).
        case drain(id: String)
        /// Stop placing anything (true), e.g. while the coordinator's disk is full, or resume.
        case pause(Bool)
    }

    public enum Action: Sendable, Hashable {
        /// Send the attempt to the worker; its slot is now taken.
        case dispatch(attemptID: String, workerID: String)
        /// The attempt was running on a worker that left.
        case lost(attemptID: String, workerID: String)
    }

    public private(set) var workers: [String: Slots] = [:]
    /// While true nothing is placed; see `Event.pause`.
    public private(set) var paused = false
    /// attempt → worker, for running attempts.
    public private(set) var placements: [String: String] = [:]
    private var workerOrder: [String] = []
    /// Queued attempts in order; removed ones leave a hole until the next compaction, so that
    /// placing and removing never shifts or copies the whole queue.
    private var slots: [Pending?] = []
    private var head = 0
    private var positions: [String: Int] = [:]

    /// Queued attempts, oldest first.
    public var queue: [Pending] { slots[head...].compactMap { $0 } }

    public init() {}

    public mutating func on(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .workerJoined(let id, let labels, let slots, let holding):
            if workers[id] == nil { workerOrder.append(id) }
            workers[id] = Slots(labels: labels, capacity: max(1, slots), ahead: workers[id]?.ahead ?? 0, running: workers[id]?.running ?? [])
            for attemptID in holding {
                takeFromQueue(attemptID)
                if let previous = placements[attemptID] { workers[previous]?.running.remove(attemptID) }
                placements[attemptID] = id
                workers[id]!.running.insert(attemptID)
            }
        case .setAhead(let id, let count):
            guard workers[id] != nil, workers[id]!.ahead != max(0, count) else { return [] }
            workers[id]!.ahead = max(0, count)
        case .workerLeft(let id):
            guard let gone = workers.removeValue(forKey: id) else { return [] }
            workerOrder.removeAll { $0 == id }
            for attempt in gone.running.sorted() {
                placements[attempt] = nil
                actions.append(.lost(attemptID: attempt, workerID: id))
            }
        case .enqueue(let pending):
            guard placements[pending.attemptID] == nil, positions[pending.attemptID] == nil else { return [] }
            positions[pending.attemptID] = slots.count
            slots.append(pending)
        case .remove(let attemptID):
            if let worker = placements.removeValue(forKey: attemptID) {
                workers[worker]?.running.remove(attemptID)
            } else {
                takeFromQueue(attemptID)
            }
        case .attach(let attemptID, let workerID):
            guard workers[workerID] != nil else { return [] }
            takeFromQueue(attemptID)
            if let previous = placements[attemptID] { workers[previous]?.running.remove(attemptID) }
            placements[attemptID] = workerID
            workers[workerID]!.running.insert(attemptID)
        case .drain(let id):
            guard workers[id] != nil, !workers[id]!.draining else { return [] }
            workers[id]!.draining = true
        case .pause(let pause):
            guard paused != pause else { return [] }
            paused = pause
        }
        actions.append(contentsOf: place())
        compact()
        return actions
    }

    /// Why `pending` is not placed, in words, or nil when a worker could take it now.
    public func waitingReason(label: String?) -> String {
        if paused { return "waiting: dispatching is paused" }
        if workers.isEmpty { return "waiting: no worker connected" }
        if !workers.values.contains(where: { $0.accepts(label) }) {
            return "waiting: needs a worker with label \(label ?? "-"); no such worker connected"
        }
        return "waiting: every eligible worker is busy"
    }

    private mutating func place() -> [Action] {
        guard !positions.isEmpty, !paused else { return [] }
        var totalRoom = workers.values.reduce(0) { $0 + max(0, $1.room) }
        guard totalRoom > 0 else { return [] }
        var actions: [Action] = []
        var index = head
        while index < slots.count && totalRoom > 0 {
            defer { index += 1 }
            guard let pending = slots[index] else { continue }
            // A free slot first (most free slots wins); a place to wait only when no eligible
            // worker has a free slot (most room wins).
            var best: String?
            var bestFree = 0
            var bestRoom = 0
            // The worker whose failure this attempt retries is used only when no other
            // connected worker could take the step at all.
            let avoided = pending.avoiding.flatMap { avoid in
                workers.contains { $0.key != avoid && !$0.value.draining && $0.value.accepts(pending.label) } ? avoid : nil
            }
            for id in workerOrder where id != avoided {
                guard let candidate = workers[id], candidate.room > 0, candidate.accepts(pending.label) else { continue }
                if candidate.free > bestFree || (bestFree == 0 && candidate.free <= 0 && candidate.room > bestRoom) {
                    best = id
                    bestFree = max(0, candidate.free)
                    bestRoom = candidate.room
                }
            }
            guard let best else { continue }
            takeFromQueue(pending.attemptID)
            workers[best]!.running.insert(pending.attemptID)
            placements[pending.attemptID] = best
            totalRoom -= 1
            actions.append(.dispatch(attemptID: pending.attemptID, workerID: best))
        }
        return actions
    }

    /// Removes a queued attempt, leaving a hole and advancing the head past holes.
    private mutating func takeFromQueue(_ attemptID: String) {
        guard let position = positions.removeValue(forKey: attemptID) else { return }
        slots[position] = nil
        while head < slots.count && slots[head] == nil { head += 1 }
    }

    /// Drops the holes before the head once they are most of the storage.
    private mutating func compact() {
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > slots.count {
            slots.removeFirst(head)
            head = 0
            for (index, pending) in slots.enumerated() {
                if let pending { positions[pending.attemptID] = index }
            }
        }
    }
}
