@testable import Coordinator
import Protocol
import Spec
import Testing

/// The pure cores behind recovery: failure classes, the scheduler's attach/drain/pause/avoid,
/// and a run machine rebuilt from recorded states.
@Suite struct FailurePolicyTests {
    let policy = FailurePolicy()

    @Test func userFailuresAreFinalWithoutARetryBlock() {
        var history = FailurePolicy.History()
        #expect(policy.decide(.userExit, reason: "exit code 1", worker: "w", retry: .none, history: &history) == .fail(status: .failed, reason: "exit code 1"))
        var timeouts = FailurePolicy.History()
        #expect(policy.decide(.timeout, reason: "timed out", worker: "w", retry: .none, history: &timeouts) == .fail(status: .timedOut, reason: "timed out"))
    }

    @Test func aRetryBlockRetriesWithGrowingBackoffThenFails() {
        let retry = RetrySettings(attempts: 3, backoffMilliseconds: 1000, factor: 3)
        var history = FailurePolicy.History()
        #expect(policy.decide(.userExit, reason: "x", worker: "w", retry: retry, history: &history) == .retry(afterMilliseconds: 1000, avoiding: nil))
        #expect(policy.decide(.timeout, reason: "x", worker: "w", retry: retry, history: &history) == .retry(afterMilliseconds: 3000, avoiding: nil))
        guard case .fail(let status, let reason) = policy.decide(.userExit, reason: "exit code 2", worker: "w", retry: retry, history: &history) else {
            Issue.record("the third user failure must be final")
            return
        }
        #expect(status == .failed)
        #expect(reason.contains("exit code 2") && reason.contains("3 times"))
    }

    @Test func backoffIsCapped() {
        let capped = FailurePolicy(maximumBackoffMilliseconds: 5000)
        var history = FailurePolicy.History()
        history.userFailures = 10
        #expect(capped.decide(.userExit, reason: "x", worker: nil, retry: RetrySettings(attempts: 50, backoffMilliseconds: 1000), history: &history)
            == .retry(afterMilliseconds: 5000, avoiding: nil))
    }

    @Test func infrastructureFailuresRetryElsewhereUntilTheirLimits() {
        var history = FailurePolicy.History()
        #expect(policy.decide(.workerError, reason: "disk full", worker: "a", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: "a"))
        #expect(policy.decide(.workerError, reason: "disk full", worker: "b", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: "b"))
        guard case .fail = policy.decide(.workerError, reason: "disk full", worker: "c", retry: .none, history: &history) else {
            Issue.record("three worker errors fail the step")
            return
        }
    }

    @Test func threeDistinctLostWorkersQuarantineTheStep() {
        var history = FailurePolicy.History()
        #expect(policy.decide(.workerLost, reason: "gone", worker: "a", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: "a"))
        // The same worker lost twice counts once.
        #expect(policy.decide(.workerLost, reason: "gone", worker: "a", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: "a"))
        #expect(policy.decide(.workerLost, reason: "gone", worker: "b", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: "b"))
        guard case .quarantine(let reason) = policy.decide(.workerLost, reason: "gone", worker: "c", retry: .none, history: &history) else {
            Issue.record("the third lost worker quarantines")
            return
        }
        #expect(reason.hasPrefix("quarantined") && reason.contains("a, b, c"))
    }

    @Test func restartsAndHandBacksAlwaysRetryAndCancelNever() {
        var history = FailurePolicy.History()
        for _ in 0..<10 {
            #expect(policy.decide(.coordinatorRestart, reason: "r", worker: "a", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: nil))
            #expect(policy.decide(.handedBack, reason: "r", worker: "a", retry: .none, history: &history) == .retry(afterMilliseconds: 0, avoiding: "a"))
        }
        #expect(policy.decide(.canceled, reason: "r", worker: "a", retry: .none, history: &history) == .stop)
        #expect(FailureClass.allCases.filter(\.isInfrastructure).count == 4)
    }
}

@Suite struct SchedulerRecoveryTests {
    @Test func reattachedAttemptsTakeTheirSlotsBeforeAnythingIsPlaced() {
        var scheduler = Scheduler()
        _ = scheduler.on(.enqueue(.init(attemptID: "new", label: nil)))
        let placed = scheduler.on(.workerJoined(id: "w", labels: [], slots: 1, holding: ["old"]))
        #expect(placed.isEmpty, "the worker's one slot is taken by the attempt it still runs")
        #expect(scheduler.placements["old"] == "w")
        #expect(scheduler.on(.remove(attemptID: "old")) == [.dispatch(attemptID: "new", workerID: "w")])
    }

    @Test func attachMovesAnAttemptAndMayExceedCapacity() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "w", labels: [], slots: 1))
        _ = scheduler.on(.enqueue(.init(attemptID: "a", label: nil)))
        _ = scheduler.on(.attach(attemptID: "b", workerID: "w"))
        #expect(scheduler.workers["w"]?.running == ["a", "b"])
        #expect(scheduler.on(.attach(attemptID: "b", workerID: "missing")) == [])
    }

    @Test func aDrainingWorkerGetsNothingNew() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "w", labels: [], slots: 2))
        _ = scheduler.on(.drain(id: "w"))
        #expect(scheduler.on(.enqueue(.init(attemptID: "a", label: nil))) == [])
        #expect(scheduler.on(.workerJoined(id: "v", labels: [], slots: 1)) == [.dispatch(attemptID: "a", workerID: "v")])
    }

    @Test func pausingHoldsEverythingUntilResumed() {
        var scheduler = Scheduler()
        _ = scheduler.on(.pause(true))
        _ = scheduler.on(.workerJoined(id: "w", labels: [], slots: 1))
        #expect(scheduler.on(.enqueue(.init(attemptID: "a", label: nil))) == [])
        #expect(scheduler.waitingReason(label: nil).contains("paused"))
        #expect(scheduler.on(.pause(false)) == [.dispatch(attemptID: "a", workerID: "w")])
    }

    @Test func aRetryAvoidsTheWorkerThatFailedUnlessItIsTheOnlyOne() {
        var scheduler = Scheduler()
        _ = scheduler.on(.workerJoined(id: "bad", labels: [], slots: 4))
        _ = scheduler.on(.workerJoined(id: "good", labels: [], slots: 1))
        _ = scheduler.on(.attach(attemptID: "busy", workerID: "bad"))
        _ = scheduler.on(.attach(attemptID: "other", workerID: "bad"))
        // "bad" has free slots, but the retry goes to "good" ...
        #expect(scheduler.on(.enqueue(.init(attemptID: "retry", label: nil, avoiding: "bad"))) == [.dispatch(attemptID: "retry", workerID: "good")])
        // ... and waits for it rather than go back to "bad" while "good" is busy.
        #expect(scheduler.on(.enqueue(.init(attemptID: "again", label: nil, avoiding: "bad"))) == [])
        #expect(scheduler.on(.remove(attemptID: "retry")) == [.dispatch(attemptID: "again", workerID: "good")])
        var alone = Scheduler()
        _ = alone.on(.workerJoined(id: "only", labels: [], slots: 1))
        #expect(alone.on(.enqueue(.init(attemptID: "r", label: nil, avoiding: "only"))) == [.dispatch(attemptID: "r", workerID: "only")])
    }
}

@Suite struct RunMachineRestoreTests {
    @Test func aRestoredRunKeepsCompletedStepsHoldsRunningOnesAndRequeuesTheRest() {
        let saved: [String: RunMachine.SavedStep] = [
            "prep": .init(status: .completed, outputs: ["train": "t", "test": "s"]),
            "train": .init(status: .running),
        ]
        var held = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false, restoring: saved)
        #expect(held.resume(holding: ["train"]) == [])
        #expect(held.states["train"]?.status == .running)
        #expect(held.on(.succeeded(step: "train", outputs: ["model": "m"])) == [.resolveCache(step: "evaluate", inputs: ["model": "m", "test": "s"])])

        var lost = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false, restoring: saved)
        #expect(lost.resume(holding: []) == [.resolveCache(step: "train", inputs: ["data": "t"])])
    }

    @Test func aWaitingStepWhoseInputsExistBecomesReadyAndAFinishedRunEnds() {
        var ready = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false, restoring: [
            "prep": .init(status: .completed, outputs: ["train": "t", "test": "s"]),
            "train": .init(status: .completed, outputs: ["model": "m"]),
        ])
        #expect(ready.resume(holding: []) == [.resolveCache(step: "evaluate", inputs: ["model": "m", "test": "s"])])
        var done = RunMachine(nodes: heartLikeNodes(), continueOnStepFailure: false, restoring: [
            "prep": .init(status: .completed), "train": .init(status: .completed), "evaluate": .init(status: .completed),
        ])
        #expect(done.resume(holding: []) == [.finished(.completed, reason: nil)])
    }
}
