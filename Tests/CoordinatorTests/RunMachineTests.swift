@testable import Coordinator
import Protocol
import TestKit
import Testing

/// prep → train → evaluate (evaluate also reads prep).
func heartLikeNodes() -> [RunMachine.Node] {
    [
        .init(name: "prep", upstreamInputs: [:], fixedInputs: ["raw": "d-raw"]),
        .init(name: "train", upstreamInputs: ["data": .init(step: "prep", output: "train")], fixedInputs: [:]),
        .init(name: "evaluate", upstreamInputs: ["model": .init(step: "train", output: "model"), "test": .init(step: "prep", output: "test")], fixedInputs: [:]),
    ]
}

@Suite struct RunMachineTests {
    @Test func stepsBecomeReadyOnlyWhenEveryInputExists() {
        var machine = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false)
        #expect(machine.on(.start) == [.resolveCache(step: "prep", inputs: ["raw": "d-raw"])])
        #expect(machine.on(.cacheResolved(step: "prep", hit: nil)) == [.enqueue(step: "prep", inputs: ["raw": "d-raw"])])
        #expect(machine.on(.attemptStarted(step: "prep")) == [])
        #expect(machine.states["prep"]?.status == .running)
        #expect(machine.on(.succeeded(step: "prep", outputs: ["train": "t", "test": "s"])) == [.resolveCache(step: "train", inputs: ["data": "t"])])
        #expect(machine.states["evaluate"]?.status == .waiting)
        #expect(machine.on(.cacheResolved(step: "train", hit: ["model": "m"])) == [.resolveCache(step: "evaluate", inputs: ["model": "m", "test": "s"])])
        #expect(machine.states["train"]?.reused == true)
        let last = machine.on(.cacheResolved(step: "evaluate", hit: ["report": "r"]))
        #expect(last == [.finished(.completed, reason: nil)])
        #expect(machine.status == .completed)
    }

    @Test func aFailureCancelsEverythingElseByDefault() {
        var machine = RunMachine(nodes: heartLikeNodes() + [.init(name: "side", upstreamInputs: [:], fixedInputs: [:])], continueOnStepFailure: false)
        _ = machine.on(.start)
        _ = machine.on(.cacheResolved(step: "prep", hit: nil))
        _ = machine.on(.cacheResolved(step: "side", hit: nil))
        _ = machine.on(.attemptStarted(step: "side"))
        let actions = machine.on(.failed(step: "prep", status: .failed, reason: "exit code 1"))
        #expect(actions.contains(.stop(step: "side", reason: "canceled because step prep failed")))
        #expect(actions.last == .finished(.failed, reason: "step prep failed: exit code 1"))
        #expect(machine.states["train"]?.status == .canceled)
        #expect(machine.states["side"]?.status == .canceled)
    }

    @Test func continueOnFailureSkipsOnlyDependents() {
        var machine = RunMachine(nodes: heartLikeNodes() + [.init(name: "side", upstreamInputs: [:], fixedInputs: [:])], continueOnStepFailure: true)
        _ = machine.on(.start)
        _ = machine.on(.cacheResolved(step: "prep", hit: nil))
        _ = machine.on(.cacheResolved(step: "side", hit: nil))
        let actions = machine.on(.failed(step: "prep", status: .timedOut, reason: "timed out"))
        #expect(actions.isEmpty)
        #expect(machine.states["train"]?.status == .skipped)
        #expect(machine.states["evaluate"]?.status == .skipped)
        #expect(machine.states["side"]?.status == .queued)
        #expect(machine.states["prep"]?.status == .timedOut)
        #expect(machine.on(.succeeded(step: "side", outputs: [:])) == [.finished(.failed, reason: "step prep timed out: timed out")])
    }

    @Test func cancelStopsQueuedAndRunningStepsAndEndsCanceled() {
        var machine = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false)
        _ = machine.on(.start)
        _ = machine.on(.cacheResolved(step: "prep", hit: nil))
        let actions = machine.on(.cancel(reason: "canceled by the user"))
        #expect(actions == [.stop(step: "prep", reason: "canceled by the user"), .finished(.canceled, reason: "canceled by the user")])
        #expect(machine.on(.succeeded(step: "prep", outputs: [:])) == [])
    }

    @Test func lateAndDuplicateEventsAreIgnored() {
        var machine = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false)
        #expect(machine.on(.succeeded(step: "prep", outputs: [:])) == [])
        _ = machine.on(.start)
        #expect(machine.on(.start) == [])
        #expect(machine.on(.succeeded(step: "train", outputs: [:])) == [])
        #expect(machine.on(.cacheResolved(step: "train", hit: [:])) == [])
        _ = machine.on(.cacheResolved(step: "prep", hit: nil))
        #expect(machine.on(.cacheResolved(step: "prep", hit: nil)) == [])
        _ = machine.on(.succeeded(step: "prep", outputs: ["train": "t", "test": "s"]))
        #expect(machine.on(.succeeded(step: "prep", outputs: ["train": "other"])) == [])
        #expect(machine.states["prep"]?.outputs["train"] == "t")
    }

    /// Random DAGs driven by random (but valid) event orders: every run ends, no step runs
    /// before its inputs, and completed steps have their outputs.
    @Test(arguments: 0..<300)
    func randomSchedulesAlwaysEndConsistently(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let count = Int.random(in: 1...12, using: &random)
        var nodes: [RunMachine.Node] = []
        for index in 0..<count {
            var upstream: [String: RunMachine.StepOutputReference] = [:]
            if index > 0 {
                for input in 0..<Int.random(in: 0...2, using: &random) {
                    upstream["in\(input)"] = .init(step: "s\(Int.random(in: 0..<index, using: &random))", output: "out")
                }
            }
            nodes.append(.init(name: "s\(index)", upstreamInputs: upstream, fixedInputs: [:]))
        }
        let continueOnFailure = Bool.random(using: &random)
        var machine = RunMachine(nodes: nodes, continueOnStepFailure: continueOnFailure)
        var pendingCache: [String] = []
        var runnable: [String] = []
        func absorb(_ actions: [RunMachine.Action]) {
            for action in actions {
                switch action {
                case .resolveCache(let step, _):
                    let node = nodes.first { $0.name == step }!
                    for reference in node.upstreamInputs.values {
                        #expect(machine.states[reference.step]?.status == .completed, "\(step) became ready before \(reference.step) completed")
                    }
                    pendingCache.append(step)
                case .enqueue(let step, _): runnable.append(step)
                case .stop(let step, _): runnable.removeAll { $0 == step }; pendingCache.removeAll { $0 == step }
                case .finished: break
                }
            }
        }
        absorb(machine.on(.start))
        var steps = 0
        while !machine.status.isFinal && steps < 1000 {
            steps += 1
            if Int.random(in: 0..<50, using: &random) == 0 {
                absorb(machine.on(.cancel(reason: "test")))
                continue
            }
            if !pendingCache.isEmpty && (runnable.isEmpty || Bool.random(using: &random)) {
                let step = pendingCache.remove(at: Int.random(in: 0..<pendingCache.count, using: &random))
                absorb(machine.on(.cacheResolved(step: step, hit: Bool.random(using: &random) ? ["out": "h-\(step)"] : nil)))
            } else if !runnable.isEmpty {
                let step = runnable.remove(at: Int.random(in: 0..<runnable.count, using: &random))
                if Int.random(in: 0..<8, using: &random) == 0 {
                    absorb(machine.on(.failed(step: step, status: .failed, reason: "boom")))
                } else {
                    absorb(machine.on(.succeeded(step: step, outputs: ["out": "o-\(step)"])))
                }
            } else {
                Issue.record("seed \(seed): run stuck with nothing to do")
                break
            }
        }
        #expect(machine.status.isFinal, "seed \(seed): run did not end")
        for (name, state) in machine.states {
            #expect(state.status.isFinal, "seed \(seed): \(name) left \(state.status)")
            if state.status == .completed { #expect(state.outputs["out"] != nil) }
        }
        if machine.status == .completed {
            #expect(machine.states.values.allSatisfy { $0.status == .completed })
        }
    }
}


/// Inputs read when a step is ready (datastore content) reach the cache and the attempt.
@Suite struct RunMachineReadInputsTests {
    @Test func inputsReadWhenReadyReplaceTheFixedValuesAndConsultTheCacheAgain() {
        let uri = "azureml://datastores/shared/paths/staged"
        var machine = RunMachine(nodes: [
            .init(name: "write", upstreamInputs: [:], fixedInputs: [:]),
            .init(name: "read", upstreamInputs: ["after": .init(step: "write", output: "marker")], fixedInputs: ["staged": uri]),
        ], continueOnStepFailure: false)
        _ = machine.on(.start)
        #expect(machine.on(.inputsRead(step: "read", inputs: ["staged": "d1"])) == [], "not ready: ignored")
        _ = machine.on(.cacheResolved(step: "write", hit: nil))
        let ready = machine.on(.succeeded(step: "write", outputs: ["marker": "m"]))
        #expect(ready == [.resolveCache(step: "read", inputs: ["after": "m", "staged": uri])])
        #expect(machine.on(.inputsRead(step: "read", inputs: ["staged": "d1"])) == [.resolveCache(step: "read", inputs: ["after": "m", "staged": "d1"])])
        #expect(machine.on(.cacheResolved(step: "read", hit: nil)) == [.enqueue(step: "read", inputs: ["after": "m", "staged": "d1"])])
        #expect(machine.on(.inputsRead(step: "read", inputs: ["staged": "d2"])) == [], "no longer resolving: ignored")
    }

    @Test func aStepWhoseInputsCannotBeReadFailsTheRun() {
        var machine = RunMachine(nodes: [.init(name: "read", upstreamInputs: [:], fixedInputs: ["staged": "azureml://datastores/d/paths/x"])], continueOnStepFailure: false)
        _ = machine.on(.start)
        let actions = machine.on(.failed(step: "read", status: .failed, reason: "input staged: missing"))
        #expect(actions == [.finished(.failed, reason: "step read failed: input staged: missing")])
    }
}
