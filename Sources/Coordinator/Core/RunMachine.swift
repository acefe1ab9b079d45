import Protocol

/// The state of one run's step graph: which steps wait, run, or ended, and what happens next.
///
/// Pure: it performs no I/O and reads no clock. The coordinator feeds it events and carries out
/// the actions it returns. Steps are identified by name (`train`, `fast/train`).
public struct RunMachine: Sendable {
    /// A step's place in the graph.
    public struct Node: Sendable, Hashable {
        public var name: String
        /// For each data input bound to another step: input name → (step, output).
        public var upstreamInputs: [String: StepOutputReference]
        /// Inputs known before the run starts (local files, URIs): input name → value.
        public var fixedInputs: [String: String]

        public init(name: String, upstreamInputs: [String: StepOutputReference], fixedInputs: [String: String]) {
            self.name = name
            self.upstreamInputs = upstreamInputs
            self.fixedInputs = fixedInputs
        }
    }

    /// An output of a step.
    public struct StepOutputReference: Sendable, Hashable {
        public var step: String
        public var output: String
        public init(step: String, output: String) {
            self.step = step
            self.output = output
        }
    }

    /// What can happen to a run.
    public enum Event: Sendable, Hashable {
        /// The run begins: steps with no upstream become ready.
        case start
        /// Inputs a ready step reads when it becomes ready (a datastore's content), now read: input
        /// name → artifact digest. They replace the node's fixed values and the cache is consulted
        /// with them (a new `resolveCache`). Ignored unless the step is being resolved.
        case inputsRead(step: String, inputs: [String: String])
        /// The cache was consulted for a ready step: outputs when a verified hit, nil on a miss.
        case cacheResolved(step: String, hit: [String: String]?)
        /// A worker started the step's attempt.
        case attemptStarted(step: String)
        /// The step's attempt succeeded with these outputs (name → artifact digest).
        case succeeded(step: String, outputs: [String: String])
        /// The step's attempt failed for good (`failed` or `timedOut`).
        case failed(step: String, status: StepStatus, reason: String)
        /// The user canceled the run.
        case cancel(reason: String)
    }

    /// What the coordinator must do next.
    public enum Action: Sendable, Hashable {
        /// The step's inputs all exist: decide from the cache (input name → digest or URI).
        case resolveCache(step: String, inputs: [String: String])
        /// The step must run: queue an attempt.
        case enqueue(step: String, inputs: [String: String])
        /// Stop the step: drop its queued attempt or cancel its running one.
        case stop(step: String, reason: String)
        /// The run ended.
        case finished(RunStatus, reason: String?)
    }

    /// A step's current status and result.
    public struct StepState: Sendable, Hashable {
        public var status: StepStatus
        public var outputs: [String: String]
        public var reused: Bool
        public var reason: String?
        /// True between `resolveCache` and `cacheResolved`.
        public var resolving: Bool
    }

    public private(set) var nodes: [Node]
    public private(set) var states: [String: StepState]
    public private(set) var status: RunStatus
    public private(set) var reason: String?
    /// Whether a failed step leaves independent steps running.
    public let continueOnStepFailure: Bool
    private var downstream: [String: [String]]
    private var nodeIndex: [String: Int]
    /// For each waiting step, how many distinct upstream steps have not completed yet.
    private var remainingUpstream: [String: Int]
    private var canceledByUser = false
    /// Steps whose state changed since the last `takeChanges()`.
    private var changed: Set<String> = []

    /// A run over `nodes`, which must be in topological order with unique names whose
    /// upstream references name earlier nodes.
    public init(nodes: [Node], continueOnStepFailure: Bool) {
        self.nodes = nodes
        self.continueOnStepFailure = continueOnStepFailure
        self.status = .queued
        var states: [String: StepState] = [:]
        var downstream: [String: [String]] = [:]
        var remaining: [String: Int] = [:]
        for node in nodes {
            precondition(states[node.name] == nil, "RunMachine: duplicate step \(node.name)")
            states[node.name] = StepState(status: .waiting, outputs: [:], reused: false, reason: nil, resolving: false)
            let upstream = Set(node.upstreamInputs.values.map(\.step))
            remaining[node.name] = upstream.count
            for reference in upstream.sorted() {
                precondition(states[reference] != nil, "RunMachine: \(node.name) reads \(reference), which is not earlier in the order")
                downstream[reference, default: []].append(node.name)
            }
        }
        self.states = states
        self.downstream = downstream
        self.nodeIndex = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.name, $0) })
        self.remainingUpstream = remaining
    }

    /// A step's state as recorded, for `init(nodes:continueOnStepFailure:restoring:)`.
    public struct SavedStep: Sendable, Hashable {
        public var status: StepStatus
        public var outputs: [String: String]
        public var reused: Bool
        public var reason: String?

        public init(status: StepStatus, outputs: [String: String] = [:], reused: Bool = false, reason: String? = nil) {
            self.status = status
            self.outputs = outputs
            self.reused = reused
            self.reason = reason
        }
    }

    /// A running run rebuilt from its recorded step states (after a coordinator restart); call
    /// `resume(holding:)` next. Steps missing from `saved` are waiting.
    public init(nodes: [Node], continueOnStepFailure: Bool, restoring saved: [String: SavedStep]) {
        self.init(nodes: nodes, continueOnStepFailure: continueOnStepFailure)
        status = .running
        for node in nodes {
            guard let step = saved[node.name] else { continue }
            states[node.name] = StepState(status: step.status, outputs: step.outputs, reused: step.reused, reason: step.reason, resolving: false)
            if reason == nil, step.status == .failed || step.status == .timedOut {
                reason = "step \(node.name) \(step.status == .timedOut ? "timed out" : "failed"): \(step.reason ?? "")"
            }
        }
        for node in nodes {
            let upstream = Set(node.upstreamInputs.values.map(\.step))
            remainingUpstream[node.name] = upstream.filter { states[$0]?.status != .completed }.count
        }
    }

    /// Picks a restored run up again: a queued or running step whose attempt may still be alive
    /// (`holding`) keeps its state; any other queued or running step, and any waiting step whose
    /// inputs all exist, is ready again (its cache is consulted, then it is queued).
    public mutating func resume(holding: Set<String>) -> [Action] {
        guard status == .running else { return [] }
        var actions: [Action] = []
        for node in nodes {
            guard let state = states[node.name] else { continue }
            switch state.status {
            case .queued, .running:
                if !holding.contains(node.name) { actions.append(contentsOf: becomeReady(node)) }
            case .waiting:
                if remainingUpstream[node.name] == 0 { actions.append(contentsOf: becomeReady(node)) }
            default:
                break
            }
        }
        if let finish = finishIfDone() { actions.append(finish) }
        return actions
    }

    /// The names of steps whose state changed since the last call, sorted by plan order.
    public mutating func takeChanges() -> [String] {
        let names = changed.sorted { (nodeIndex[$0] ?? 0) < (nodeIndex[$1] ?? 0) }
        changed.removeAll(keepingCapacity: true)
        return names
    }

    /// Applies `event` and returns what to do, in order.
    public mutating func on(_ event: Event) -> [Action] {
        guard !status.isFinal else { return [] }
        var actions: [Action] = []
        switch event {
        case .start:
            guard status == .queued else { return [] }
            status = .running
            for node in nodes where node.upstreamInputs.isEmpty {
                actions.append(contentsOf: becomeReady(node))
            }
        case .inputsRead(let step, let read):
            guard let state = states[step], state.resolving, state.status == .queued, let index = nodeIndex[step] else { return [] }
            nodes[index].fixedInputs.merge(read) { _, new in new }
            actions.append(.resolveCache(step: step, inputs: inputs(of: nodes[index])))
        case .cacheResolved(let step, let hit):
            guard var state = states[step], state.resolving, state.status == .queued else { return [] }
            state.resolving = false
            if let hit {
                state.status = .completed
                state.outputs = hit
                state.reused = true
                states[step] = state
            changed.insert(step)
                actions.append(contentsOf: propagate(from: step))
            } else {
                states[step] = state
            changed.insert(step)
                let node = nodes[nodeIndex[step]!]
                actions.append(.enqueue(step: step, inputs: inputs(of: node)))
            }
        case .attemptStarted(let step):
            guard var state = states[step], state.status == .queued, !state.resolving else { return [] }
            state.status = .running
            states[step] = state
            changed.insert(step)
        case .succeeded(let step, let outputs):
            guard var state = states[step], state.status == .queued || state.status == .running, !state.resolving else { return [] }
            state.status = .completed
            state.outputs = outputs
            states[step] = state
            changed.insert(step)
            actions.append(contentsOf: propagate(from: step))
        case .failed(let step, let status, let reason):
            guard var state = states[step], state.status == .queued || state.status == .running else { return [] }
            state.status = status == .timedOut ? .timedOut : .failed
            state.reason = reason
            state.resolving = false
            states[step] = state
            changed.insert(step)
            if self.reason == nil { self.reason = "step \(step) \(status == .timedOut ? "timed out" : "failed"): \(reason)" }
            if continueOnStepFailure {
                actions.append(contentsOf: skipDownstream(of: step))
            } else {
                actions.append(contentsOf: stopAll(reason: "canceled because step \(step) failed"))
            }
        case .cancel(let reason):
            canceledByUser = true
            if self.reason == nil { self.reason = reason }
            actions.append(contentsOf: stopAll(reason: reason))
        }
        if let finish = finishIfDone() { actions.append(finish) }
        return actions
    }

    /// Input name → digest (or URI) for a node whose upstream steps all completed.
    public func inputs(of node: Node) -> [String: String] {
        var values = node.fixedInputs
        for (input, reference) in node.upstreamInputs {
            values[input] = states[reference.step]?.outputs[reference.output] ?? ""
        }
        return values
    }

    private mutating func becomeReady(_ node: Node) -> [Action] {
        states[node.name]?.status = .queued
        states[node.name]?.resolving = true
        changed.insert(node.name)
        return [.resolveCache(step: node.name, inputs: inputs(of: node))]
    }

    private mutating func propagate(from step: String) -> [Action] {
        var actions: [Action] = []
        for name in downstream[step] ?? [] {
            guard states[name]?.status == .waiting, let index = nodeIndex[name], let count = remainingUpstream[name] else { continue }
            remainingUpstream[name] = count - 1
            if count == 1 { actions.append(contentsOf: becomeReady(nodes[index])) }
        }
        return actions
    }

    private mutating func skipDownstream(of step: String) -> [Action] {
        var actions: [Action] = []
        var pending = downstream[step] ?? []
        while let name = pending.popLast() {
            guard let state = states[name], !state.status.isFinal else { continue }
            if state.status == .queued || state.status == .running {
                actions.append(.stop(step: name, reason: "skipped: an input comes from step \(step), which did not complete"))
            }
            states[name]?.status = .skipped
            changed.insert(name)
            states[name]?.resolving = false
            states[name]?.reason = "an input comes from step \(step), which did not complete"
            pending.append(contentsOf: downstream[name] ?? [])
        }
        return actions
    }

    private mutating func stopAll(reason: String) -> [Action] {
        var actions: [Action] = []
        for node in nodes {
            guard let state = states[node.name], !state.status.isFinal else { continue }
            if state.status == .queued || state.status == .running {
                actions.append(.stop(step: node.name, reason: reason))
            }
            states[node.name]?.status = .canceled
            changed.insert(node.name)
            states[node.name]?.resolving = false
            states[node.name]?.reason = reason
        }
        return actions
    }

    private mutating func finishIfDone() -> Action? {
        guard status == .running || status == .queued else { return nil }
        guard states.values.allSatisfy({ $0.status.isFinal }) else { return nil }
        if canceledByUser {
            status = .canceled
        } else if states.values.allSatisfy({ $0.status == .completed }) {
            status = .completed
            reason = nil
        } else {
            status = .failed
        }
        return .finished(status, reason: reason)
    }
}
