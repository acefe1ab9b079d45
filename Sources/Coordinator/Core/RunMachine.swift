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
        /// For a trial of a sweep: the sweep step. A trial that fails or is stopped early does not
        /// fail the run; its sweep step decides once every trial has ended.
        public var trialOf: String?
        /// For a sweep step: what limits its trials. A sweep step is ready once every trial has
        /// ended (completed or not); the coordinator then picks the best (`selected`).
        public var sweep: Sweep?

        /// What a sweep step limits.
        public struct Sweep: Sendable, Hashable {
            /// At most this many trials queued or running at once (nil: no limit).
            public var maxConcurrentTrials: Int?
            public init(maxConcurrentTrials: Int?) {
                self.maxConcurrentTrials = maxConcurrentTrials
            }
        }

        public init(
            name: String, upstreamInputs: [String: StepOutputReference], fixedInputs: [String: String],
            trialOf: String? = nil, sweep: Sweep? = nil
        ) {
            self.name = name
            self.upstreamInputs = upstreamInputs
            self.fixedInputs = fixedInputs
            self.trialOf = trialOf
            self.sweep = sweep
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
        /// A sweep step's best trial was chosen: the sweep step completes with these outputs.
        case selected(step: String, outputs: [String: String])
        /// A trial is stopped early (its sweep's early termination policy); it ends `canceled`.
        case stopTrial(step: String, reason: String)
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
    /// Sweep step → its trials, in plan order.
    private var trials: [String: [String]] = [:]
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
        var trials: [String: [String]] = [:]
        for node in nodes {
            if let sweep = node.trialOf { trials[sweep, default: []].append(node.name) }
        }
        for node in nodes {
            precondition(states[node.name] == nil, "RunMachine: duplicate step \(node.name)")
            states[node.name] = StepState(status: .waiting, outputs: [:], reused: false, reason: nil, resolving: false)
            let upstream = Self.upstream(of: node, trials: trials)
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
        self.trials = trials
    }

    /// The steps `node` waits for: those whose outputs it reads and, for a sweep step, every one
    /// of its trials (whether or not a trial has outputs).
    private static func upstream(of node: Node, trials: [String: [String]]) -> Set<String> {
        var upstream = Set(node.upstreamInputs.values.map(\.step))
        if node.sweep != nil { upstream.formUnion(trials[node.name] ?? []) }
        return upstream
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
            if reason == nil, node.trialOf == nil, step.status == .failed || step.status == .timedOut {
                reason = "step \(node.name) \(step.status == .timedOut ? "timed out" : "failed"): \(step.reason ?? "")"
            }
        }
        for node in nodes {
            let upstream = Self.upstream(of: node, trials: trials)
            remainingUpstream[node.name] = upstream.filter { name in
                let status = states[name]?.status
                // A sweep step waits for its trials to end, not to complete.
                if node.sweep != nil, nodeIndex[name].map({ nodes[$0].trialOf == node.name }) == true { return status?.isFinal != true }
                return status != .completed
            }.count
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
            for node in nodes where remainingUpstream[node.name] == 0 {
                actions.append(contentsOf: becomeReady(node))
            }
        case .inputsRead(let step, let read):
            guard let state = states[step], state.resolving, state.status == .queued, let index = nodeIndex[step] else { return [] }
            nodes[index].fixedInputs.merge(read) { _, new in new }
            actions.append(.resolveCache(step: step, inputs: inputs(of: nodes[index])))
        case .cacheResolved(let step, let hit):
            guard var state = states[step], state.resolving, state.status == .queued else { return [] }
            if let hit {
                actions.append(contentsOf: complete(step, outputs: hit, reused: true))
            } else {
                state.resolving = false
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
            guard let state = states[step], state.status == .queued || state.status == .running, !state.resolving else { return [] }
            actions.append(contentsOf: complete(step, outputs: outputs))
        case .selected(let step, let outputs):
            guard let state = states[step], state.status == .queued, state.resolving,
                  nodeIndex[step].map({ nodes[$0].sweep != nil }) == true else { return [] }
            actions.append(contentsOf: complete(step, outputs: outputs))
        case .stopTrial(let step, let reason):
            guard var state = states[step], state.status == .queued || state.status == .running || state.status == .waiting,
                  nodeIndex[step].map({ nodes[$0].trialOf != nil }) == true else { return [] }
            if state.status != .waiting { actions.append(.stop(step: step, reason: reason)) }
            state.status = .canceled
            state.reason = reason
            state.resolving = false
            states[step] = state
            changed.insert(step)
            actions.append(contentsOf: trialEnded(step))
        case .failed(let step, let status, let reason):
            guard var state = states[step], state.status == .queued || state.status == .running else { return [] }
            state.status = status == .timedOut ? .timedOut : .failed
            state.reason = reason
            state.resolving = false
            states[step] = state
            changed.insert(step)
            if let index = nodeIndex[step], nodes[index].trialOf != nil {
                // A failed trial is one result of the sweep; the sweep step decides.
                actions.append(contentsOf: trialEnded(step))
                break
            }
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
        if let sweep = node.trialOf, let limit = sweepLimit(sweep), activeTrials(of: sweep, except: node.name) >= limit {
            // Held back by max_concurrent_trials: waits, ready, until another trial ends.
            states[node.name]?.status = .waiting
            states[node.name]?.resolving = false
            return []
        }
        states[node.name]?.status = .queued
        states[node.name]?.resolving = true
        changed.insert(node.name)
        return [.resolveCache(step: node.name, inputs: inputs(of: node))]
    }

    /// Marks `step` completed with `outputs` and makes ready what waited for it (downstream steps;
    /// for a trial, a held trial of its sweep and the sweep step itself).
    private mutating func complete(_ step: String, outputs: [String: String], reused: Bool = false) -> [Action] {
        states[step]?.status = .completed
        states[step]?.outputs = outputs
        states[step]?.reused = reused
        states[step]?.resolving = false
        changed.insert(step)
        return propagate(from: step) + trialEnded(step)
    }

    /// The trial limit of sweep step `sweep`, if it has one.
    private func sweepLimit(_ sweep: String) -> Int? {
        nodeIndex[sweep].flatMap { nodes[$0].sweep?.maxConcurrentTrials }
    }

    /// How many trials of `sweep` are queued or running, `step` left out.
    private func activeTrials(of sweep: String, except step: String) -> Int {
        var count = 0
        for name in trials[sweep] ?? [] where name != step {
            if let status = states[name]?.status, status == .queued || status == .running { count += 1 }
        }
        return count
    }

    /// After trial `step` ended (any way): frees its slot for a held trial, and makes its sweep step
    /// ready once every trial has ended. Nothing for a step that is not a trial.
    private mutating func trialEnded(_ step: String) -> [Action] {
        guard let index = nodeIndex[step], let sweep = nodes[index].trialOf else { return [] }
        var actions: [Action] = []
        for name in trials[sweep] ?? [] {
            guard let limit = sweepLimit(sweep), activeTrials(of: sweep, except: "") < limit else { break }
            guard states[name]?.status == .waiting, remainingUpstream[name] == 0, let trial = nodeIndex[name] else { continue }
            actions.append(contentsOf: becomeReady(nodes[trial]))
        }
        if states[sweep]?.status == .waiting, let count = remainingUpstream[sweep] {
            remainingUpstream[sweep] = count - 1
            if count == 1, let sweepIndex = nodeIndex[sweep] { actions.append(contentsOf: becomeReady(nodes[sweepIndex])) }
        }
        return actions
    }

    private mutating func propagate(from step: String) -> [Action] {
        var actions: [Action] = []
        for name in downstream[step] ?? [] {
            guard states[name]?.status == .waiting, let index = nodeIndex[name], let count = remainingUpstream[name] else { continue }
            if nodes[index].sweep != nil, nodeIndex[step].map({ nodes[$0].trialOf == name }) == true { continue }
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
        } else if nodes.allSatisfy({ $0.trialOf != nil || states[$0.name]?.status == .completed }) {
            status = .completed
            reason = nil
        } else {
            status = .failed
        }
        return .finished(status, reason: reason)
    }
}
