import Protocol
import Testing

@testable import CLI

/// The pieces of the live progress: elapsed times, retry notes, step output made safe, cut lines.
struct ProgressTextTests {
    @Test(arguments: [
        (Int64(-5_000), "0s"), (0, "0s"), (999, "0s"), (7_000, "7s"), (59_999, "59s"), (60_000, "1m00s"), (65_400, "1m05s"),
        (3_599_000, "59m59s"), (3_600_000, "1h00m"), (7_380_000, "2h03m"), (90_061_000, "25h01m"),
    ])
    func elapsedTimeIsShortAndWholeSeconds(milliseconds: Int64, expected: String) {
        #expect(ProgressText.elapsed(milliseconds: milliseconds) == expected)
    }

    static func attempt(_ number: Int, status: String, exit: Int32? = nil, signal: Int32? = nil, message: String? = nil) -> AttemptReport {
        AttemptReport(
            number: number, id: "run-1-\(number)", worker: "local", status: status, dispatchedAt: 1_000, startedAt: 1_100, finishedAt: 2_000,
            exitCode: exit, signal: signal, message: message)
    }

    @Test func aRetrySaysWhichAttemptOfHowManyAndWhyTheLastOneEnded() {
        let failed = Self.attempt(1, status: "failed", exit: 1, message: "exit code 1")
        #expect(ProgressText.retry(number: 2, budget: 3, previous: failed) == "attempt 2 of 3 after exit 1")
        #expect(ProgressText.retry(number: 2, budget: nil, previous: failed) == "attempt 2 after exit 1", "no retry block known: no budget")
        #expect(ProgressText.retry(number: 2, budget: 3, previous: nil) == "attempt 2 of 3", "history unknown: no cause")
        let lost = Self.attempt(3, status: "lost", message: "the worker went away")
        #expect(
            ProgressText.retry(number: 4, budget: 3, previous: lost) == "attempt 4 after the worker went away",
            "a worker that went away does not use up the budget: no `of 3` past it")
        #expect(ProgressText.retry(number: 2, budget: 2, previous: Self.attempt(1, status: "failed", signal: 9)) == "attempt 2 of 2 after signal 9")
        #expect(ProgressText.retry(number: 2, budget: 2, previous: Self.attempt(1, status: "timed_out", signal: 15)) == "attempt 2 of 2 after timeout")
        #expect(ProgressText.retry(number: 2, budget: 2, previous: Self.attempt(1, status: "handed_back")) == "attempt 2 of 2 after handed back")
        let hostile = Self.attempt(1, status: "worker_error", message: "bad\u{1B}[2J news\u{07}")
        #expect(ProgressText.retry(number: 2, budget: nil, previous: hostile) == "attempt 2 after bad news", "a message cannot move the cursor")
    }

    @Test(arguments: [
        ("plain text", "plain text"),
        ("\u{1B}[31mred\u{1B}[0m and \u{1B}[1;32mgreen\u{1B}[m", "red and green"),
        ("up\u{1B}[2Aclear\u{1B}[2K\u{1B}[J", "upclear"),
        ("\u{1B}]0;window title\u{07}after", "after"),
        ("\u{1B}]8;;http://x\u{1B}\\link\u{1B}]8;;\u{1B}\\", "link"),
        (" 10%|█         |\r 50%|█████     |\r100%|██████████|", "100%|██████████|"),
        ("done\r", "done"),
        ("text\r   ", "text"),
        ("\ttab\tseparated", " tab separated"),
        ("    indented traceback line   ", "    indented traceback line"),
        ("bell\u{07} nul\u{00} del\u{7F} c1\u{9B}31m csi", "bell nul del c1 csi"),
        ("\u{1B}(Bcharset", "charset"),
        ("trailing escape \u{1B}", "trailing escape"),
    ])
    func stepOutputIsShownWithoutAnythingThatMovesTheCursor(raw: String, expected: String) {
        let visible = ProgressText.visible(raw)
        #expect(visible == expected)
        #expect(!visible.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    }

    @Test func linesAreCutToTheWidthWithAnEllipsis() {
        #expect(ProgressText.truncated("short", to: 10) == "short")
        #expect(ProgressText.truncated("exactly10!", to: 10) == "exactly10!")
        #expect(ProgressText.truncated("eleven char", to: 10) == "eleven ch…")
        #expect(ProgressText.truncated("abc", to: 1) == "…")
        #expect(ProgressText.truncated("abc", to: 0) == "")
        #expect(ProgressText.truncated("été à 🚀 vite", to: 8) == "été à 🚀…", "characters, not bytes")
        #expect(ProgressText.padded("train", to: 8) == "train   ")
        #expect(ProgressText.padded("a-long-name", to: 8) == "a-long-name")
    }
}
