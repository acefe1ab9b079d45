import Protocol
import Testing

@testable import CLI

/// What `conduit run` and `submit --wait` write while following a run, from reports, step output
/// and the time: plain lines, live redrawing, interleaved logs.
struct ProgressBoardTests {
    static let escape = "\u{1B}"

    static func step(
        _ name: String, _ status: StepStatus, attempts: Int = 1, seconds: Double? = nil, history: [AttemptReport]? = nil
    ) -> StepReport {
        var step = StepReport(
            name: name, status: status, reused: false, attempts: attempts, worker: attempts > 0 ? "local" : nil, seconds: seconds)
        step.attemptHistory = history
        return step
    }

    static func report(_ steps: [StepReport], status: RunStatus = .running) -> RunReport {
        RunReport(run: "run-1", pipeline: "p", status: status, steps: steps, outputs: [:], createdAt: 0, finishedAt: nil, reason: nil, version: 1)
    }

    static func attempt(_ number: Int, _ status: String, exit: Int32? = nil, started: Int64 = 1_000) -> AttemptReport {
        AttemptReport(
            number: number, id: "run-1-1-\(number)", worker: "local", status: status, dispatchedAt: started, startedAt: started,
            finishedAt: status == "running" ? nil : started + 500, exitCode: exit)
    }

    /// The text of the writes among `actions`.
    static func written(_ actions: [ProgressBoard.Action]) -> String {
        actions.map { if case .write(let text) = $0 { text } else { "" } }.joined()
    }

    @Test func plainLinesSayEachChangeAndEachRetryWithoutAControlCharacter() {
        var board = ProgressBoard(settings: .init(live: false, retryBudgets: ["train": 3]))
        var all = ""
        func take(_ event: ProgressBoard.Event) -> [ProgressBoard.Action] {
            let actions = board.on(event)
            all += Self.written(actions)
            return actions
        }
        #expect(
            Self.written(take(.report(Self.report([Self.step("prep", .running), Self.step("train", .waiting, attempts: 0)]), now: 0)))
                == "  prep      running on local\n")
        #expect(
            Self.written(take(.report(Self.report([Self.step("prep", .completed, seconds: 0.4), Self.step("train", .running)]), now: 500)))
                == "  prep      completed in 0.4s on local\n  train     running on local\n")
        #expect(take(.output(step: "train", attempt: 1, bytes: Array("epoch 1\n".utf8))).isEmpty, "no output without --logs off a terminal")
        #expect(take(.tick(now: 9_000, width: 80)).isEmpty, "nothing is redrawn off a terminal")
        // The retry, seen in a report without detail: held until the detail says why.
        let retried = Self.report([Self.step("prep", .completed, seconds: 0.4), Self.step("train", .queued, attempts: 2)])
        #expect(take(.report(retried, now: 9_500)) == [.fetchDetail])
        let history = [Self.attempt(1, "failed", exit: 1), Self.attempt(2, "dispatched")]
        let detailed = Self.report([Self.step("prep", .completed, seconds: 0.4), Self.step("train", .queued, attempts: 2, history: history)])
        #expect(Self.written(take(.report(detailed, now: 9_600))) == "  train     attempt 2 of 3 after exit 1\n")
        #expect(
            Self.written(take(.report(Self.report([Self.step("prep", .completed, seconds: 0.4), Self.step("train", .running, attempts: 2)]), now: 9_700)))
                == "  train     running on local\n", "the new attempt runs: said again")
        let done = Self.report([Self.step("prep", .completed, seconds: 0.4), Self.step("train", .completed, attempts: 2, seconds: 1)], status: .completed)
        #expect(Self.written(take(.report(done, now: 11_000))) == "  train     completed in 1.0s on local\n")
        #expect(take(.finished).isEmpty)
        #expect(!all.contains(Self.escape) && !all.contains("\r"))
    }

    @Test func aRetryWhoseDetailNeverCameIsStillSaidAtTheEnd() {
        var board = ProgressBoard(settings: .init(retryBudgets: ["train": 2]))
        _ = board.on(.report(Self.report([Self.step("train", .running)]), now: 0))
        #expect(board.on(.report(Self.report([Self.step("train", .running, attempts: 2)]), now: 10)) == [.fetchDetail])
        #expect(board.on(.report(Self.report([Self.step("train", .failed, attempts: 2)]), now: 20)) == [.fetchDetail])
        #expect(Self.written(board.on(.finished)) == "  train     attempt 2 of 2\n  train     failed\n")
        #expect(board.on(.note("after the end")).isEmpty, "a finished board writes nothing more")
    }

    @Test func aTerminalShowsEachRunningStepsElapsedTimeAndLastLineRedrawnInPlace() {
        let e = Self.escape
        var board = ProgressBoard(settings: .init(live: true, width: 40))
        #expect(
            Self.written(board.on(.report(Self.report([Self.step("train", .running)]), now: 10_000)))
                == "\(e)[2K  train     running on local\n\(e)[2K  train     0s\n\(e)[J")
        #expect(
            Self.written(board.on(.output(step: "train", attempt: 1, bytes: Array("epoch 1\nepoch 2 loss=0.1".utf8))))
                == "\r\(e)[1A\(e)[2K  train     0s  epoch 2 loss=0.1\n\(e)[J", "the line being written counts as the last")
        #expect(board.on(.tick(now: 10_400, width: 40)).isEmpty, "nothing changed on screen: nothing written")
        #expect(Self.written(board.on(.tick(now: 11_500, width: 40))) == "\r\(e)[1A\(e)[2K  train     1s  epoch 2 loss=0.1\n\(e)[J")
        #expect(
            Self.written(board.on(.tick(now: 11_500, width: 20))) == "\r\(e)[1A\(e)[2K  train     1s  ep…\n\(e)[J",
            "cut one column short of a narrower terminal")
        #expect(
            Self.written(board.on(.output(step: "train", attempt: 1, bytes: Array("\n\u{1B}[31m\n".utf8)))).isEmpty,
            "blank and colour-only lines leave the last line as it was")
        #expect(
            Self.written(board.on(.note("hello"))) == "\r\(e)[1A\(e)[2Kconduit: hello\n\(e)[2K  train     1s  ep…\n\(e)[J",
            "a permanent line goes above the drawing")
        #expect(Self.written(board.on(.finished)) == "\r\(e)[1A\(e)[J", "the drawing is cleared at the end")
    }

    @Test func theElapsedTimeIsTheCurrentAttemptsFromItsStartWhenTheDetailGivesIt() {
        var board = ProgressBoard(settings: .init(live: true, width: 80))
        let history = [Self.attempt(1, "failed", exit: 1, started: 1_000), Self.attempt(2, "running", started: 5_000)]
        let text = Self.written(board.on(.report(Self.report([Self.step("train", .running, attempts: 2, history: history)]), now: 70_000)))
        #expect(text.contains("  train     1m05s\n"), "\(text)")
        let finished = Self.written(board.on(.report(Self.report([Self.step("train", .completed, attempts: 2, seconds: 65)], status: .completed), now: 71_000)))
        #expect(finished == "\r\(Self.escape)[1A\(Self.escape)[2K  train     completed in 65.0s on local\n\(Self.escape)[J", "a step that ended is no longer drawn")
    }

    @Test func logsInterleaveWholeLinesPrefixedWithTheirStep() {
        var board = ProgressBoard(settings: .init(live: false, logs: true))
        _ = board.on(.report(Self.report([Self.step("prep", .running), Self.step("train", .running)]), now: 0))
        #expect(board.on(.output(step: "prep", attempt: 1, bytes: Array("hel".utf8))).isEmpty, "half a line waits for its end")
        #expect(Self.written(board.on(.output(step: "prep", attempt: 1, bytes: Array("lo\nwor".utf8)))) == "prep     | hello\n")
        #expect(Self.written(board.on(.output(step: "train", attempt: 1, bytes: Array("a\n\n\u{1B}[1mb\u{1B}[0m\n".utf8)))) == "train    | a\ntrain    | \ntrain    | b\n")
        let accent = Array("é\n".utf8)
        #expect(board.on(.output(step: "prep", attempt: 1, bytes: [accent[0]])).isEmpty)
        #expect(Self.written(board.on(.output(step: "prep", attempt: 1, bytes: Array(accent[1...])))) == "prep     | woré\n", "a character split between reads")
        _ = board.on(.output(step: "train", attempt: 1, bytes: Array("half".utf8)))
        #expect(
            Self.written(board.on(.output(step: "train", attempt: 2, bytes: Array("new\n".utf8)))) == "train    | half\ntrain    | new\n",
            "a new attempt: what the last one left unfinished is written first")
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: ProgressBoard.longestHeldLine + 1)
        #expect(Self.written(board.on(.output(step: "train", attempt: 2, bytes: long))) == "train    | " + String(repeating: "x", count: long.count) + "\n")
        _ = board.on(.output(step: "prep", attempt: 1, bytes: Array("end".utf8)))
        #expect(Self.written(board.on(.finished)) == "prep     | end\n")
    }

    @Test func aStepNoWorkerCanTakeSaysSoOnce() {
        var board = ProgressBoard(settings: .init())
        var waiting = Self.step("train", .queued, attempts: 1)
        waiting.reason = "waiting: needs gpu≥1; no such worker connected"
        #expect(Self.written(board.on(.report(Self.report([waiting]), now: 0))) == "  train     waiting: needs gpu≥1; no such worker connected\n")
        #expect(board.on(.report(Self.report([waiting]), now: 1)).isEmpty)
    }
}

/// Log lines written while the steps are drawn go above the drawing, which is drawn again below them.
@Test func anExternalLineGoesAboveTheDrawing() {
    let e = ProgressBoardTests.escape
    var board = ProgressBoard(settings: .init(live: true, width: 80))
    _ = board.on(.report(ProgressBoardTests.report([ProgressBoardTests.step("train", .running)]), now: 0))
    #expect(
        ProgressBoardTests.written(board.on(.external("2026-12-07T20:12:27+0000 warning conduit: retrying\n")))
            == "\r\(e)[1A\(e)[2K2026-12-07T20:12:27+0000 warning conduit: retrying\n\(e)[2K  train     0s\n\(e)[J")
    var plain = ProgressBoard(settings: .init())
    #expect(ProgressBoardTests.written(plain.on(.external("no newline"))) == "no newline\n")
}

/// A follower that first sees a step after it was retried (a fast step, a run followed late)
/// still says each retry, from the attempt history.
@Test func retriesBeforeTheFirstReportAreSaidEachFromTheHistory() {
    var board = ProgressBoard(settings: .init(retryBudgets: ["train": 3]))
    let history = [
        ProgressBoardTests.attempt(1, "failed", exit: 1), ProgressBoardTests.attempt(2, "failed", exit: 2),
        ProgressBoardTests.attempt(3, "succeeded", exit: 0),
    ]
    let report = ProgressBoardTests.report(
        [ProgressBoardTests.step("train", .completed, attempts: 3, seconds: 1, history: history)], status: .completed)
    #expect(
        ProgressBoardTests.written(board.on(.report(report, now: 0)))
            == "  train     attempt 2 of 3 after exit 1\n  train     attempt 3 of 3 after exit 2\n  train     completed in 1.0s on local\n")
    #expect(board.on(.report(report, now: 1)).isEmpty, "said once")
}
