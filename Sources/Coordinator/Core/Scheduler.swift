/// Places queued attempts on workers: by label, free slots, cores, memory and GPUs.
///
/// Pure: no I/O, no clock. Attempts are taken in the order they were queued (runs in submission
/// order, steps in plan order). For each, in order of preference:
/// - only workers that can run it now: the label its `compute` maps to, a free slot, and the
///   cores, memory and GPUs it asks for (GPUs with at least its `gpu_memory` each); a worker is
///   never given more than it has;
/// - a step that asks for no GPU goes to a worker without GPUs while one of those has room;
/// - among those, the worker that already holds the most bytes of its inputs (outputs it
///   produced, inputs it fetched), else the next one in turn (so load spreads);
/// - a one-core step may also wait on a worker beyond its slots (`ahead`), so that a short step's
///   slot never idles for a round trip, but only where every attempt it holds is such a step and
///   no worker has a free slot for it.
///
/// A GPU step is given specific devices, the ones with the least memory that is enough, which
/// stay leased to it until it is removed or its worker leaves.
///
/// Later attempts may overtake one that fits no worker now (its resources are taken), so that
/// free capacity is used; but once `overtakeLimit` of them have been placed on workers that
/// could have run it, it keeps one such worker for itself: nothing later is placed there until
/// it runs, so a large step is never starved by a stream of small ones. An attempt no connected worker could ever run stays queued (see
/// `waitingReason`), never failed.
public struct Scheduler: Sendable {
    /// A queued attempt.
    public struct Pending: Sendable, Hashable {
        public var attemptID: String
        public var need: Requirement
        /// A worker to keep the attempt off (the one whose failure it retries), unless no other
        /// connected worker could ever take it.
        public var avoiding: String?
        /// Its input artifacts and their sizes, to prefer the worker that holds them.
        public var inputs: [Input]

        public var label: String? { need.label }

        public init(attemptID: String, label: String? = nil, need: Requirement? = nil, avoiding: String? = nil, inputs: [Input] = []) {
            self.attemptID = attemptID
            var need = need ?? Requirement()
            if label != nil { need.label = label }
            self.need = need
            self.avoiding = avoiding
            self.inputs = inputs
        }
    }

    /// An input artifact of a queued attempt.
    public struct Input: Sendable, Hashable {
        public var artifact: String
        public var bytes: Int64
        public init(artifact: String, bytes: Int64) {
            self.artifact = artifact
            self.bytes = bytes
        }
    }

    /// An attempt already running on a worker (re-attached after a reconnect or a coordinator
    /// restart), with what it holds there.
    public struct Held: Sendable, Hashable {
        public var attemptID: String
        public var need: Requirement
        public var gpuDevices: [Int]
        public init(attemptID: String, need: Requirement = Requirement(), gpuDevices: [Int] = []) {
            self.attemptID = attemptID
            self.need = need
            self.gpuDevices = gpuDevices
        }
    }

    /// A worker as the scheduler sees it.
    public struct Worker: Sendable, Hashable {
        public var capacity: WorkerCapacity
        /// Attempts it may hold beyond its slots, waiting for one (one-core steps only).
        public var ahead = 0
        /// Attempts placed on it and not yet removed: running, or waiting there.
        public var running: Set<String> = []
        /// Draining: it finishes what it holds and takes nothing new.
        public var draining = false
        /// Cores (thousandths) and memory given to its attempts.
        public var usedCPU = 0
        public var usedMemory: Int64 = 0
        /// GPU index → the attempt it is leased to.
        public var leasedGPUs: [Int: String] = [:]
        /// Attempts on it that ask for more than one core, or for memory or GPUs.
        var largeAttempts = 0
        /// Artifacts it is known to hold.
        var holds: Set<String> = []

        /// Free slots plus free places to wait; none while draining.
        public var room: Int { draining ? 0 : capacity.slots + ahead - running.count }

        /// Whether some attempt could be placed on it now: a free slot and a free core, or a
        /// place to wait for a one-core attempt.
        var canTakeSomething: Bool {
            !draining && ((running.count < capacity.slots && usedCPU < capacity.cpuMillicores) || (largeAttempts == 0 && room > 0))
        }

        /// Whether it can start `need` now.
        func fits(_ need: Requirement) -> Bool {
            !draining && capacity.accepts(need.label) && running.count < capacity.slots
                && usedCPU + need.cpuMillicores <= capacity.cpuMillicores && usedMemory + need.memoryBytes <= capacity.memoryBytes
                && (need.gpus == 0 || freeGPUs(minimumMemory: need.gpuMemoryBytes).count >= need.gpus)
        }

        /// Whether `need` may wait on it for a slot.
        func canHoldAhead(_ need: Requirement) -> Bool {
            need.isUnit && !draining && largeAttempts == 0 && room > 0 && capacity.accepts(need.label)
        }

        /// Free GPUs with at least `minimumMemory`, smallest memory first.
        func freeGPUs(minimumMemory: Int64) -> [Int] {
            capacity.gpus.filter { leasedGPUs[$0.index] == nil && $0.memoryBytes >= minimumMemory }
                .sorted { ($0.memoryBytes, $0.index) < ($1.memoryBytes, $1.index) }
                .map(\.index)
        }
    }

    public enum Event: Sendable, Hashable {
        /// A worker registered; `holding` are attempts it already runs, which take their share of
        /// it before anything is placed.
        case workerJoined(id: String, capacity: WorkerCapacity, holding: [Held] = [])
        /// How many one-core attempts the worker may hold beyond its slots (0 when it joins).
        case setAhead(id: String, count: Int)
        /// The worker is gone; its attempts are reported back as `lost` and its leases end.
        case workerLeft(id: String)
        case enqueue(Pending)
        /// Drop a queued attempt, or end a placed one and free what it held.
        case remove(attemptID: String)
        /// The attempt already runs on the worker (re-attached): it takes its share there, even
        /// beyond the worker's capacity.
        case attach(Held, workerID: String)
        /// The worker takes nothing new (it drains and will leave).
        case drain(id: String)
        /// Stop placing anything (true), e.g. while the coordinator's disk is full, or resume.
        case pause(Bool)
        /// The worker holds these artifacts (it produced or fetched them).
        case holds(workerID: String, artifacts: [String])
    }

    public enum Action: Sendable, Hashable {
        /// Send the attempt to the worker, with the GPUs leased to it.
        case dispatch(attemptID: String, workerID: String, gpuDevices: [Int])
        /// The attempt was running on a worker that left.
        case lost(attemptID: String, workerID: String)
    }

    /// What a placed attempt holds.
    struct Allocation: Sendable, Hashable {
        var worker: String
        var cpu: Int
        var memory: Int64
        var gpus: [Int]
        var large: Bool
    }

    public private(set) var workers: [String: Worker] = [:]
    /// While true nothing is placed; see `Event.pause`.
    public private(set) var paused = false
    private var allocations: [String: Allocation] = [:]
    private var workerOrder: [String] = []
    /// Workers that can take something (`Worker.canTakeSomething`): the only ones searched. Order is arbitrary; `openIndex` finds a worker's place.
    private var openWorkers: [String] = []
    private var openIndex: [String: Int] = [:]
    /// Where the next search for a worker starts, so consecutive attempts spread.
    private var rotor = 0
    /// artifact → workers that hold it.
    private var holders: [String: Set<String>] = [:]
    /// Queued attempts by the order they were queued in (a sequence number).
    private var pendingBySequence: [Int: Pending] = [:]
    private var sequences: [String: Int] = [:]
    private var nextSequence = 0
    /// The queued attempts of each kind, in order; a removed one stays until its kind's head
    /// passes it, so that removing never shifts a queue.
    private var kindQueues: [Kind: KindQueue] = [:]

    /// Kinds that fit nowhere since the last pass, each with its oldest attempt.
    private var stuck: [Kind: Pending] = [:]
    /// Each kind's search for workers since the last pass.
    private var searches: [Kind: Search] = [:]
    /// Workers kept for attempts that fit nowhere now (see the type's documentation).
    public private(set) var kept: Set<String> = []
    /// attempt → how many later attempts were placed on a worker that could have run it.
    private var overtaken: [String: Int] = [:]
    /// How many later attempts may overtake a stuck one before it keeps a worker for itself.
    public static let overtakeLimit = 16
    /// How many artifacts are remembered per worker for locality.
    public static let holdsLimit = 50_000

    /// Queued attempts, oldest first.
    public var queue: [Pending] { pendingBySequence.sorted { $0.key < $1.key }.map(\.value) }
    /// attempt → worker, for placed attempts.
    public var placements: [String: String] { allocations.mapValues(\.worker) }

    public init() {}

    public mutating func on(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .workerJoined(let id, let capacity, let holding):
            if workers[id] == nil {
                workerOrder.append(id)
                workers[id] = Worker(capacity: capacity)
            } else {
                workers[id]!.capacity = capacity
            }
            for held in holding { attach(held, to: id) }
            refreshOpen(id)
        case .setAhead(let id, let count):
            guard workers[id] != nil, workers[id]!.ahead != max(0, count) else { return [] }
            workers[id]!.ahead = max(0, count)
            refreshOpen(id)
        case .workerLeft(let id):
            guard let gone = workers.removeValue(forKey: id) else { return [] }
            workerOrder.removeAll { $0 == id }
            refreshOpen(id)
            for artifact in gone.holds { holders[artifact]?.remove(id) }
            for attempt in gone.running.sorted() {
                allocations[attempt] = nil
                actions.append(.lost(attemptID: attempt, workerID: id))
            }
        case .enqueue(let pending):
            guard allocations[pending.attemptID] == nil, sequences[pending.attemptID] == nil else { return [] }
            let sequence = nextSequence
            nextSequence += 1
            sequences[pending.attemptID] = sequence
            pendingBySequence[sequence] = pending
            kindQueues[Kind(pending), default: KindQueue()].sequences.append(sequence)
            kindQueues[Kind(pending)]!.live += 1
            return placeNew(pending)
        case .remove(let attemptID):
            if allocations[attemptID] != nil {
                release(attemptID)
            } else {
                takeFromQueue(attemptID)
            }
        case .attach(let held, let workerID):
            guard workers[workerID] != nil else { return [] }
            attach(held, to: workerID)
        case .drain(let id):
            guard workers[id] != nil, !workers[id]!.draining else { return [] }
            workers[id]!.draining = true
            refreshOpen(id)
        case .pause(let pause):
            guard paused != pause else { return [] }
            paused = pause
        case .holds(let workerID, let artifacts):
            guard workers[workerID] != nil else { return [] }
            // A hint, bounded: a worker's cache evicts too, so past the limit start afresh.
            if workers[workerID]!.holds.count + artifacts.count > Self.holdsLimit {
                for artifact in workers[workerID]!.holds { holders[artifact]?.remove(workerID) }
                workers[workerID]!.holds = []
            }
            for artifact in artifacts where workers[workerID]!.holds.insert(artifact).inserted {
                holders[artifact, default: []].insert(workerID)
            }
            return []
        }
        actions.append(contentsOf: place())
        return actions
    }

    /// Why an attempt needing `need` is not placed, in words.
    public func waitingReason(_ need: Requirement) -> String {
        if paused { return "waiting: dispatching is paused" }
        if workers.isEmpty { return "waiting: no worker connected" }
        let live = workers.values.filter { !$0.draining }
        if !live.contains(where: { $0.capacity.couldEverRun(need) }) {
            return "waiting: needs \(need.summary); no such worker connected"
        }
        return "waiting: every worker that can take it is busy"
    }


    // MARK: Placing

    /// Attempts with the same requirement and the same worker to avoid: one that cannot be
    /// placed means none of them can until something frees.
    private struct Kind: Hashable {
        var need: Requirement
        var avoiding: String?
        init(_ pending: Pending) {
            need = pending.need
            avoiding = pending.avoiding
        }
    }

    /// Places a newly queued attempt. Nothing was freed since the last pass, so the attempts
    /// queued before it are as stuck as they were, and the workers they keep stay kept.
    private mutating func placeNew(_ pending: Pending) -> [Action] {
        guard !paused, !workers.isEmpty, stuck[Kind(pending)] == nil else { return [] }
        return placeOrKeep(pending)
    }

    /// Goes through the queue in order, placing what fits: the oldest attempt of every kind not
    /// yet stuck, then the next, so that a kind found stuck costs nothing more in this pass.
    private mutating func place() -> [Action] {
        stuck = [:]
        kept = []
        searches = [:]
        guard !pendingBySequence.isEmpty, !paused, !workers.isEmpty else { return [] }
        var freeSlots = workers.values.reduce(0) { $0 + max(0, $1.room) }
        var heads = MinimumHeap()
        for kind in kindQueues.keys {
            if let first = firstLive(of: kind) { heads.push(first, kind) }
        }
        var actions: [Action] = []
        while freeSlots > 0, let (sequence, kind) = heads.pop() {
            guard let pending = pendingBySequence[sequence] else { continue }
            let placed = placeOrKeep(pending)
            // A stuck kind is not looked at again in this pass.
            guard !placed.isEmpty else { continue }
            freeSlots -= placed.count
            actions.append(contentsOf: placed)
            if let next = firstLive(of: kind) { heads.push(next, kind) }
        }
        return actions
    }

    /// Places `pending` on the best worker that can take it now; otherwise marks its kind stuck
    /// and keeps a worker for it.
    private mutating func placeOrKeep(_ pending: Pending) -> [Action] {
        let kind = Kind(pending)
        // Taken out while it changes, so that its lists are not copied.
        var search = searches.removeValue(forKey: kind) ?? makeSearch(for: pending)
        var chosen = bestWorker(for: pending, &search)
        if chosen == nil, pending.need.isUnit {
            chosen = aheadWorker(for: pending, &search)
        }
        searches[kind] = search
        guard let worker = chosen else {
            stuck[kind] = pending
            if overtaken[pending.attemptID, default: 0] >= Self.overtakeLimit, let keep = workerToKeep(for: pending, avoided: search.avoided) {
                kept.insert(keep)
            }
            return []
        }
        // Every stuck attempt (queued before this one) this worker could have run is overtaken;
        // one overtaken too often keeps a worker from now on.
        for waiting in stuck.values where overtaken[waiting.attemptID, default: 0] < Self.overtakeLimit && workers[worker]!.capacity.couldEverRun(waiting.need) {
            overtaken[waiting.attemptID, default: 0] += 1
            if overtaken[waiting.attemptID]! >= Self.overtakeLimit, let keep = workerToKeep(for: waiting, avoided: avoidedWorker(for: waiting)) {
                kept.insert(keep)
            }
        }
        let devices = allocate(pending, on: worker)
        takeFromQueue(pending.attemptID)
        rotor &+= 1
        return [.dispatch(attemptID: pending.attemptID, workerID: worker, gpuDevices: devices)]
    }

    /// The search for workers for one kind of attempt, from one pass to the next. Until the next
    /// pass nothing is freed, workers only fill up, so a worker found unable to take this kind is
    /// dropped from its search for good: placing costs O(1) amortised, not a scan of every worker.
    private struct Search {
        /// Workers to try first (for a CPU step: those without GPUs), then the rest.
        var lists: [[String]]
        var cursors: [Int]
        /// Workers that may hold it ahead of a slot, built when first needed.
        var ahead: [String]?
        var aheadCursor = 0
        /// The worker kept away from (see `avoidedWorker`).
        var avoided: String?
    }

    private func makeSearch(for pending: Pending) -> Search {
        let avoided = avoidedWorker(for: pending)
        // Start where the rotor points, so that consecutive kinds spread over the workers.
        let start = openWorkers.isEmpty ? 0 : rotor % openWorkers.count
        var withoutGPUs: [String] = []
        var withGPUs: [String] = []
        for id in openWorkers[start...] + openWorkers[..<start] where id != avoided {
            guard let capacity = workers[id]?.capacity, capacity.couldEverRun(pending.need) else { continue }
            if capacity.gpus.isEmpty { withoutGPUs.append(id) } else { withGPUs.append(id) }
        }
        guard pending.need.gpus == 0 else { return Search(lists: [withGPUs], cursors: [0], avoided: avoided) }
        return Search(lists: [withoutGPUs, withGPUs], cursors: [0, 0], avoided: avoided)
    }

    /// The worker whose failure this attempt retries, unless no other connected worker could
    /// ever take the step.
    private func avoidedWorker(for pending: Pending) -> String? {
        guard let avoid = pending.avoiding else { return nil }
        let others = workers.contains { $0.key != avoid && !$0.value.draining && $0.value.capacity.couldEverRun(pending.need) }
        return others ? avoid : nil
    }

    /// A worker that can run `pending` now: for a CPU step one without GPUs if any can; among
    /// those the one holding the most of its input bytes, else the next in turn.
    private func bestWorker(for pending: Pending, _ search: inout Search) -> String? {
        for list in search.lists.indices {
            guard let next = nextFitting(pending.need, &search.lists[list], cursor: &search.cursors[list]) else { continue }
            let cpuStepOnCPUWorkers = pending.need.gpus == 0 && list == 0
            if let local = bestHolder(of: pending, avoided: search.avoided, withoutGPUs: cpuStepOnCPUWorkers) { return local }
            search.cursors[list] += 1
            return next
        }
        return nil
    }

    /// The next worker in `list` from `cursor` that can run `need` now; those that cannot (or are
    /// kept for another attempt) are dropped from the list.
    private func nextFitting(_ need: Requirement, _ list: inout [String], cursor: inout Int) -> String? {
        while !list.isEmpty {
            if cursor >= list.count { cursor = 0 }
            let id = list[cursor]
            if !kept.contains(id), let worker = workers[id], worker.fits(need) { return id }
            list.swapAt(cursor, list.count - 1)
            list.removeLast()
        }
        return nil
    }

    /// A worker that may hold a one-core attempt beyond its slots, in turn.
    private func aheadWorker(for pending: Pending, _ search: inout Search) -> String? {
        if search.ahead == nil {
            search.ahead = openWorkers.filter { $0 != search.avoided && workers[$0]!.capacity.accepts(pending.need.label) }
        }
        while !search.ahead!.isEmpty {
            if search.aheadCursor >= search.ahead!.count { search.aheadCursor = 0 }
            let id = search.ahead![search.aheadCursor]
            if !kept.contains(id), workers[id]?.canHoldAhead(pending.need) == true {
                search.aheadCursor += 1
                return id
            }
            search.ahead!.swapAt(search.aheadCursor, search.ahead!.count - 1)
            search.ahead!.removeLast()
        }
        return nil
    }

    /// Of the workers holding some of `pending`'s inputs that can run it now, the one holding
    /// the most bytes.
    private func bestHolder(of pending: Pending, avoided: String?, withoutGPUs: Bool) -> String? {
        guard !pending.inputs.isEmpty else { return nil }
        var bytes: [String: Int64] = [:]
        for input in pending.inputs {
            for id in holders[input.artifact] ?? [] where id != avoided && !kept.contains(id) { bytes[id, default: 0] += input.bytes }
        }
        var best: (id: String, bytes: Int64)?
        for (id, held) in bytes where held > 0 {
            guard let worker = workers[id], worker.fits(pending.need), !withoutGPUs || worker.capacity.gpus.isEmpty else { continue }
            if best == nil || held > best!.bytes || (held == best!.bytes && id < best!.id) { best = (id, held) }
        }
        return best?.id
    }

    /// The worker kept for an attempt that fits nowhere now: one that could run it when idle,
    /// with the fewest attempts on it; nil when none could.
    private func workerToKeep(for pending: Pending, avoided: String?) -> String? {
        var best: (id: String, running: Int)?
        for id in workerOrder where !kept.contains(id) && id != avoided {
            let worker = workers[id]!
            guard !worker.draining, worker.capacity.couldEverRun(pending.need) else { continue }
            if best == nil || worker.running.count < best!.running { best = (id, worker.running.count) }
        }
        return best?.id
    }

    /// Gives `pending` its share of `worker`; returns the GPUs leased to it.
    private mutating func allocate(_ pending: Pending, on id: String) -> [Int] {
        let devices = Array(workers[id]!.freeGPUs(minimumMemory: pending.need.gpuMemoryBytes).prefix(pending.need.gpus)).sorted()
        record(pending.attemptID, need: pending.need, gpus: devices, on: id)
        return devices
    }

    private mutating func record(_ attemptID: String, need: Requirement, gpus: [Int], on id: String) {
        let allocation = Allocation(worker: id, cpu: need.cpuMillicores, memory: need.memoryBytes, gpus: gpus, large: !need.isUnit)
        allocations[attemptID] = allocation
        workers[id]!.running.insert(attemptID)
        workers[id]!.usedCPU += allocation.cpu
        workers[id]!.usedMemory += allocation.memory
        for gpu in gpus { workers[id]!.leasedGPUs[gpu] = attemptID }
        if allocation.large { workers[id]!.largeAttempts += 1 }
        refreshOpen(id)
    }

    private mutating func release(_ attemptID: String) {
        guard let allocation = allocations.removeValue(forKey: attemptID), workers[allocation.worker] != nil else { return }
        let id = allocation.worker
        workers[id]!.running.remove(attemptID)
        workers[id]!.usedCPU -= allocation.cpu
        workers[id]!.usedMemory -= allocation.memory
        for gpu in allocation.gpus where workers[id]!.leasedGPUs[gpu] == attemptID { workers[id]!.leasedGPUs[gpu] = nil }
        if allocation.large { workers[id]!.largeAttempts -= 1 }
        refreshOpen(id)
    }

    private mutating func attach(_ held: Held, to id: String) {
        takeFromQueue(held.attemptID)
        release(held.attemptID)
        // Devices another attempt already holds are not leased twice; the attempt keeps the rest.
        let gpus = held.gpuDevices.filter { device in
            workers[id]!.capacity.gpus.contains { $0.index == device } && workers[id]!.leasedGPUs[device] == nil
        }
        record(held.attemptID, need: held.need, gpus: gpus, on: id)
    }

    /// Keeps `openWorkers` true for `id` after a change to it.
    private mutating func refreshOpen(_ id: String) {
        let open = workers[id].map(\.canTakeSomething) ?? false
        if open, openIndex[id] == nil {
            openIndex[id] = openWorkers.count
            openWorkers.append(id)
        } else if !open, let index = openIndex.removeValue(forKey: id) {
            let last = openWorkers.removeLast()
            if index < openWorkers.count {
                openWorkers[index] = last
                openIndex[last] = index
            }
        }
    }

    /// Removes a queued attempt (its kind's queue skips it later).
    private mutating func takeFromQueue(_ attemptID: String) {
        guard let sequence = sequences.removeValue(forKey: attemptID), let pending = pendingBySequence.removeValue(forKey: sequence) else { return }
        overtaken[attemptID] = nil
        let kind = Kind(pending)
        kindQueues[kind]?.live -= 1
        if kindQueues[kind]?.live == 0 { kindQueues[kind] = nil }
    }

    /// The oldest queued attempt of `kind`, dropping removed ones from the front of its queue.
    private mutating func firstLive(of kind: Kind) -> Int? {
        guard var queue = kindQueues[kind] else { return nil }
        kindQueues[kind] = nil  // no second copy while it is changed
        while queue.head < queue.sequences.count && pendingBySequence[queue.sequences[queue.head]] == nil { queue.head += 1 }
        if queue.head > 1024 && queue.head * 2 > queue.sequences.count {
            queue.sequences.removeFirst(queue.head)
            queue.head = 0
        }
        let first = queue.head < queue.sequences.count ? queue.sequences[queue.head] : nil
        kindQueues[kind] = queue
        return first
    }

    /// Queued attempts of one kind, oldest first.
    private struct KindQueue {
        var sequences: [Int] = []
        var head = 0
        /// How many are still queued.
        var live = 0
    }

    /// A binary min-heap of (sequence, kind): the next attempt of each kind in a pass.
    private struct MinimumHeap {
        private var items: [(sequence: Int, kind: Kind)] = []

        mutating func push(_ sequence: Int, _ kind: Kind) {
            items.append((sequence, kind))
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard items[child].sequence < items[parent].sequence else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() -> (Int, Kind)? {
            guard !items.isEmpty else { return nil }
            items.swapAt(0, items.count - 1)
            let top = items.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && items[left].sequence < items[smallest].sequence { smallest = left }
                if right < items.count && items[right].sequence < items[smallest].sequence { smallest = right }
                guard smallest != parent else { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
            return (top.sequence, top.kind)
        }
    }
}
