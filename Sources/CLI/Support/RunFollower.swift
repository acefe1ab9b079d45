import Foundation
import Protocol

/// Follows a run to its end, printing progress, then prints the summary.
enum RunFollower {
    /// How often a follower that shows the steps' output (a terminal, or `--logs`) reads it and redraws.
    static let outputInterval = Duration.milliseconds(300)

    ///
    /// With `workersAreFixed` (the embedded worker is the only one there will ever be), a step that
    /// no connected worker can take would wait forever: the run is canceled and the step named.
    static func follow(run: String, client: any CoordinatorClient, progress: ProgressPrinter, workersAreFixed: Bool = false) async throws -> RunReport {
        // However following ends, nothing stays drawn or held.
        defer { progress.handle(.finished) }
        var report = try await client.report(run: run)
        var reader = StepOutputReader(run: run)
        // A run that ended before this first look (a fast one, or a busy machine): its output still
        // comes before the lines that say how its steps ended.
        if report.status.isFinal, progress.readsOutput { await reader.read(report, client: client, progress: progress) }
        await show(report, run: run, client: client, progress: progress)
        // Not reading output, a follower waits for changes as long as the coordinator lets it.
        let wait = progress.readsOutput ? 0.3 : 10
        var lastRead = ContinuousClock.now - outputInterval
        while !report.status.isFinal {
            if workersAreFixed, let stuck = report.steps.first(where: { $0.status == .queued && $0.reason?.contains("no such worker") == true }) {
                _ = try? await client.cancel(run: run)
                throw CLIError("""
                    conduit run: step \(stuck.name) can never run on this machine (\(stuck.reason ?? "")); \
                    submit it to a coordinator with such a worker, or, to try placement without GPUs, start the local service with CONDUIT_SIMULATED_GPUS set (`conduit service stop`, then run again with it; see the README)
                    """, exitCode: ExitStatus.usage)
            }
            let next = try await waitForChange(run: run, after: report.version, client: client, progress: progress, seconds: wait)
            let changed = next.version != report.version || next.status != report.status
            // Output first: what an attempt wrote comes before the line that says how it ended.
            if progress.readsOutput, changed || ContinuousClock.now - lastRead >= outputInterval {
                lastRead = ContinuousClock.now
                await reader.read(next, client: client, progress: progress)
            }
            if changed { await show(next, run: run, client: client, progress: progress) }
            if progress.redraws {
                progress.handle(.tick(now: ProgressPrinter.now(), width: TerminalOutput.width(of: FileHandle.standardError.fileDescriptor)))
            }
            report = next
            // Progress reports leave out the steps' detail; the final one has it.
            if report.status.isFinal, let full = try? await client.report(run: run) { report = full }
        }
        return report
    }

    /// Shows a report, and the detailed one when the progress asks for it (a retry, to say why).
    static func show(_ report: RunReport, run: String, client: any CoordinatorClient, progress: ProgressPrinter) async {
        guard progress.handle(.report(report, now: ProgressPrinter.now())) else { return }
        if let detailed = try? await client.report(run: run) {
            progress.handle(.report(detailed, now: ProgressPrinter.now()))
        }
    }

    /// The next change of the run; a coordinator that stops answering (restarting, say) is asked
    /// again every second for up to `patience`, so a follower outlives a coordinator restart.
    static func waitForChange(
        run: String, after version: Int64, client: any CoordinatorClient, progress: ProgressPrinter, seconds: Double = 10,
        patience: Duration = .seconds(60)
    ) async throws -> RunReport {
        let deadline = ContinuousClock.now + patience
        var noted = false
        while true {
            do {
                return try await client.waitForChange(run: run, after: version, seconds: seconds)
            } catch let error as CLIError where error.exitCode == ExitStatus.unavailable && ContinuousClock.now < deadline {
                if !noted {
                    progress.note("the coordinator does not answer; trying again for up to \(patience.components.seconds) s")
                    noted = true
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Prints the final state: JSON (`--json`) or a human summary; returns the exit status.
    static func finish(_ report: RunReport, outputs: [String: String], json: Bool) -> Int32 {
        if json {
            printJSON(RunSummary(report: report, outputs: outputs))
        } else {
            let reused = report.steps.filter(\.reused).count
            let ran = report.steps.filter { $0.status == .completed && !$0.reused }.count
            var line = "run \(report.run): \(report.status.rawValue)"
            if let finished = report.finishedAt {
                line += String(format: " in %.1fs", Double(finished - report.createdAt) / 1000)
            }
            line += " (\(ran) ran, \(reused) reused"
            let others = report.steps.count - ran - reused
            line += others > 0 ? ", \(others) did not complete)" : ")"
            print(line)
            if let reason = report.reason, report.status != .completed { print("reason: \(reason)") }
            for step in report.steps where step.status == .failed || step.status == .timedOut {
                print("  \(step.name): \(step.status.rawValue)\(step.reason.map { " (\($0))" } ?? "") — see `conduit logs \(report.run) \(step.name)`")
            }
            for name in outputs.keys.sorted() {
                print("output \(name): \(outputs[name]!)")
            }
            for step in report.steps {
                for registration in step.registered ?? [] { print("  \(step.name): data asset \(registration)") }
            }
        }
        return report.status == .completed ? ExitStatus.success : ExitStatus.runFailed
    }
}

/// The `--json` summary of a run: the names scripts rely on.
struct RunSummary: Encodable {
    struct Step: Encodable {
        var name: String
        var status: String
        var reused: Bool
        var attempts: Int
        var worker: String?
        var reason: String?
        /// The GPUs leased to its last attempt (its `CUDA_VISIBLE_DEVICES`), when it had any.
        var gpus: [Int]?
        /// True when those GPUs are simulated.
        var gpusSimulated: Bool?
        /// Milliseconds since 1970: its first attempt's dispatch, and its end.
        var startedAt: Int64?
        var finishedAt: Int64?
        /// Seconds from start to end, retries and the waits between them included.
        var durationSeconds: Double?
        /// The last value of each metric (for a reused step: its source run's); empty when none.
        /// This and the fields below are left out of `conduit runs --json`, whose reports have no detail.
        var metrics: [String: Double]?
        /// For a reused step: the run it reused.
        var sourceRun: String?
        /// Output name → artifact digest, once it completed; empty before.
        var outputs: [String: String]?
        /// Every attempt in this run, oldest first.
        var attemptHistory: [AttemptReport]?
        /// What became of its outputs with `name:` (`model → azureml:model:3`, or why not).
        var registered: [String]?
    }

    var run: String
    var pipeline: String
    var status: String
    var reason: String?
    var steps: [Step]
    var outputs: [String: String]

    /// With `detailed`, each step's detail fields are present (empty when it has none); pass it
    /// only for a report asked with its detail (`CoordinatorClient.report(run:)`).
    init(report: RunReport, outputs: [String: String], detailed: Bool = true) {
        run = report.run
        pipeline = report.pipeline
        status = report.status.rawValue
        reason = report.reason
        steps = report.steps.map {
            Step(
                name: $0.name, status: $0.status.rawValue, reused: $0.reused, attempts: $0.attempts, worker: $0.worker, reason: $0.reason, gpus: $0.gpus,
                gpusSimulated: $0.gpusSimulated, startedAt: $0.startedAt, finishedAt: $0.finishedAt, durationSeconds: $0.durationSeconds,
                metrics: detailed ? $0.metrics ?? [:] : nil, sourceRun: $0.sourceRun, outputs: detailed ? $0.outputs ?? [:] : nil,
                attemptHistory: detailed ? $0.attemptHistory ?? [] : nil, registered: $0.registered
            )
        }
        self.outputs = outputs
    }
}

/// Prints a value as sorted, pretty JSON on standard output.
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) {
        print(String(decoding: data, as: UTF8.self))
    }
}
