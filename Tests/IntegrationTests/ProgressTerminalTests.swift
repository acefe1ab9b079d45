import Foundation
import TestKit
import Testing

/// What `conduit run` shows while it runs: on a terminal, each running step redrawn in place with
/// its elapsed time and last line; through a pipe, plain lines without a control character; and
/// with `--logs`, the steps' output, prefixed with their names. Retries show as they happen.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ProgressTerminalTests {
    /// A step that prints, waits for `release` to exist, fails its first attempt and succeeds on its retry.
    static func retriedPipeline(in work: String) throws -> String {
        try Fixtures.pipeline("""
            type: pipeline
            jobs:
              train:
                command: >-
                  echo "epoch 1 of 2";
                  while [ ! -e \(work)/release ]; do sleep 0.05; done;
                  if [ ! -e \(work)/tried ]; then touch \(work)/tried; echo "diverged" >&2; exit 1; fi;
                  printf 'loss \\033[31m0.25\\033[0m\\n';
                  echo "finished training"
                retry: {attempts: 2, backoff: 0}
            """, in: work)
    }

    @Test func aTerminalShowsTheRunningStepsElapsedTimeAndLastLineInPlaceAndItsRetryAndLogs() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = try Self.retriedPipeline(in: home)
        let child = try PseudoTerminalChild(
            arguments: ["run", pipeline, "--logs", "--output-dir", home + "/out"], environment: ["CONDUIT_HOME": home, "TERM": "xterm"], columns: 100)
        defer { if child.process.isRunning { child.process.terminate() } }
        // The step is drawn while it runs: its name, how long it has run, the line it printed.
        let drawn = try Regex(#"\[2K  train     \d+s  epoch 1 of 2"#)
        let sawStep = child.waitForOutput { $0.contains(drawn) }
        try "".write(toFile: home + "/release", atomically: true, encoding: .utf8)
        let status = child.waitForExit()
        let text = String(decoding: child.bytes, as: UTF8.self)
        #expect(sawStep, "\(text.debugDescription)")
        #expect(status == 0, "\(text.debugDescription)")
        #expect(text.contains("\r\u{1B}[1A"), "redrawn in place: \(text.debugDescription)")
        #expect(text.contains("  train     attempt 2 of 2 after exit 1"), "\(text.debugDescription)")
        #expect(text.contains("  train     completed in "), "\(text.debugDescription)")
        #expect(text.contains(": completed in "), "the summary follows: \(text.debugDescription)")
        #expect(!text.contains("\u{1B}[31m"), "the step's own escape sequences are not passed on: \(text.debugDescription)")
        // With --logs the output goes above the drawing; an attempt's output comes before the line saying how it ended.
        let diverged = try #require(text.range(of: "train    | diverged"), "\(text.debugDescription)")
        let retried = try #require(text.range(of: "attempt 2 of 2 after exit 1"))
        #expect(diverged.lowerBound < retried.lowerBound, "\(text.debugDescription)")
        #expect(text.contains("\u{1B}[2Ktrain    | finished training\r\n"), "\(text.debugDescription)")
        for line in text.components(separatedBy: "\n") where line.hasPrefix("\u{1B}[2K  train     ") && line.contains("s  ") {
            #expect(line.count <= 100 + 8, "a drawn line fits the terminal's 100 columns: \(line.debugDescription)")
        }
    }

    @Test func throughAPipeLinesArePlainAndLogsArePrefixedWithTheirStep() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = try Self.retriedPipeline(in: home)
        try "".write(toFile: home + "/release", atomically: true, encoding: .utf8)
        // A terminal type is set: what decides is that standard error is not a terminal.
        let result = try await runEmbedded(["run", pipeline, "--logs", "--output-dir", home + "/out"], home: home, environment: ["TERM": "xterm"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("  train     completed in "), "\(result.stderr)")
        #expect(result.stderr.contains("  train     attempt 2 of 2 after exit 1\n"), "\(result.stderr)")
        #expect(result.stderr.contains("train    | epoch 1 of 2\n"), "\(result.stderr)")
        #expect(result.stderr.contains("train    | diverged\n"), "the first attempt's output too: \(result.stderr)")
        #expect(result.stderr.contains("train    | loss 0.25\n"), "\(result.stderr)")
        #expect(result.stderr.contains("train    | finished training\n"), "\(result.stderr)")
        for (name, text) in [("stdout", result.stdout), ("stderr", result.stderr)] {
            #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0 == "\r" }, "no control character on \(name): \(text.debugDescription)")
        }

        let plain = try await runEmbedded(["run", pipeline, "--force", "train"], home: home, environment: ["TERM": "xterm"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!plain.stderr.contains("| "), "without --logs, no step output: \(plain.stderr)")
    }

    @Test func submitWaitLogsInterleavesTheStepsOutputFromACoordinator() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: work) }
            let pipeline = try Self.retriedPipeline(in: work)
            try "".write(toFile: work + "/release", atomically: true, encoding: .utf8)
            let refused = try await cluster.cli(["submit", pipeline, "--logs"])
            #expect(refused.status != 0 && refused.stderr.contains("--logs prints the steps' output while following the run: add --wait"), "\(refused.stderr)")
            let result = try await cluster.cli(["submit", pipeline, "--wait", "--logs"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("  train     attempt 2 of 2 after exit 1\n"), "\(result.stderr)")
            #expect(result.stderr.contains("train    | diverged\n") && result.stderr.contains("train    | finished training\n"), "\(result.stderr)")
            #expect(!result.stderr.contains("\u{1B}"), "\(result.stderr.debugDescription)")
        }
    }
}
