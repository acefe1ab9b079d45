import ArgumentParser
import Foundation
import Synchronization
import Glibc
import Protocol

/// `conduit submit`: send a pipeline to a coordinator.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a pipeline to a coordinator; prints the run id (or follows it with --wait)."
    )

    @Argument(help: "The pipeline YAML file.")
    var pipeline: String

    @OptionGroup var overrides: OverrideOptions

    @Flag(help: "Follow the run to its end, printing progress; exit non-zero if it fails.")
    var wait = false

    @Option(name: .customLong("force"), help: "Run this step even if a cached result exists (repeatable).")
    var force: [String] = []

    @Option(name: .customLong("output-dir"), help: "With --wait: copy pipeline outputs to DIR/OUTPUT_NAME.")
    var outputDirectory: String?

    @Flag(help: "Print JSON: the run id, or with --wait the whole run.")
    var json = false

    @Flag(name: .customLong("dry-run"), help: "Print what would run and what would be reused, and why; submit and upload nothing.")
    var dryRun = false

    @Flag(help: "With --wait: print the steps' output as they run, each line prefixed with its step's name (on standard error).")
    var logs = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if dryRun && (wait || outputDirectory != nil) { throw ValidationError("--dry-run submits nothing: it cannot be combined with --wait or --output-dir") }
        if logs && !wait { throw ValidationError("--logs prints the steps' output while following the run: add --wait") }
    }

    func run() async throws {
        try await withCLIErrors {
            let loaded = try SubmissionBuilder.load(file: pipeline, options: overrides.loadOptions())
            let client = try await client.client()
            let plan = try await SubmissionBuilder.checkingRegisteredData(loaded, file: pipeline, options: overrides.loadOptions(), client: client)
            if dryRun {
                for warning in plan.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
                let report = try await SubmissionBuilder.dryRun(plan: plan, force: force, client: client)
                if json { printJSON(report) } else { IterationPrinter.lines(of: report).forEach { print($0) } }
                return ExitStatus.success
            }
            let progress = ProgressPrinter(enabled: wait, logs: logs, plan: plan)
            for warning in plan.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            // With --wait, Ctrl-C from here on leaves the run going, even one still being submitted.
            let submitted = Mutex<String?>(nil)
            let leave: @Sendable (String) -> Never = { run in
                progress.handle(.finished)
                FileHandle.standardError.write(Data(
                    "conduit: run \(run) goes on without this terminal; follow it with `conduit status \(run)` or `conduit logs \(run) STEP --follow`, stop it with `conduit cancel \(run)`\n".utf8))
                Glibc.exit(ExitStatus.interrupted)
            }
            let interrupted = wait ? Interrupts.handle {
                guard let run = submitted.withLock({ $0 }) else { return }  // left once submitted, below
                leave(run)
            } : nil
            defer { interrupted?.stop() }
            let run = try await SubmissionBuilder.submit(plan: plan, force: force, client: client, progress: progress)
            submitted.withLock { $0 = run }
            guard wait else {
                if json { printJSON(["run": run]) } else { print(run) }
                return ExitStatus.success
            }
            if interrupted?.happened == true { leave(run) }
            progress.note("run \(run): \(plan.name), \(plan.steps.count) step\(plan.steps.count == 1 ? "" : "s")")
            let report = try await RunFollower.follow(run: run, client: client, progress: progress)
            var outputs = report.outputs
            if let outputDirectory {
                outputs = try await OutputDownloader.download(run: run, into: outputDirectory, client: client)
            }
            return RunFollower.finish(report, outputs: outputs, json: json)
        }
    }
}

/// `conduit status RUN`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a run and each of its steps.")

    @Argument(help: "The run id.")
    var run: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let report = try await client.client().report(run: run)
            if json {
                printJSON(RunSummary(report: report, outputs: report.outputs))
                return ExitStatus.success
            }
            StatusPrinter.lines(of: report).forEach { print($0) }
            return ExitStatus.success
        }
    }
}

/// `conduit runs list` (plain `conduit runs`).
struct RunsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recent runs, newest first.")

    @Option(help: "How many runs to list.")
    var limit: Int = 20

    @Option(help: ArgumentHelp(
        "Only runs that match, as in MLflow's run search: clauses joined by 'and', each metrics.NAME OP NUMBER (OP: < <= > >= = !=), params.NAME = 'TEXT', status = 'completed' or pipeline = 'NAME'.",
        valueName: "EXPR"))
    var filter: String?

    // Unconditional: the value may start with '-' (`--sort -metrics.accuracy`).
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Order by metrics.NAME, created or pipeline; a leading - sorts descending (-metrics.accuracy: best first). Runs without the metric come last.", valueName: "FIELD"))
    var sort: String?

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let searching = filter != nil || sort != nil
            let client = try await client.client()
            let runs = searching ? try await client.searchRuns(limit: limit, filter: filter, sort: sort) : try await client.runs(limit: limit)
            if json {
                printJSON(runs.map { RunSummary(report: $0, outputs: $0.outputs, detailed: searching) })
                return ExitStatus.success
            }
            if runs.isEmpty { print(searching ? "no run matches" : "no runs yet: start one with `conduit submit PIPELINE.yml`") }
            let dates = ISO8601DateFormatter()
            // The metrics the listing was sorted or filtered by, shown with each run.
            let shown = RunsListCommand.metricNames(in: [sort ?? "", filter ?? ""].joined(separator: " "))
            for run in runs {
                let reused = run.steps.filter(\.reused).count
                let created = Date(timeIntervalSince1970: Double(run.createdAt) / 1000)
                var line = "\(run.run)  \(run.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(run.pipeline)  \(run.steps.count) steps, \(reused) reused  \(dates.string(from: created))"
                let values = RunsListCommand.runMetrics(run)
                for name in shown { line += "  \(name) " + (values[name].map(StatusPrinter.format) ?? "-") }
                print(line)
            }
            return ExitStatus.success
        }
    }

    /// A run's metrics as a search sees them: a metric several steps logged is the last step's.
    static func runMetrics(_ run: RunReport) -> [String: Double] {
        var values: [String: Double] = [:]
        for step in run.steps { values.merge(step.metrics ?? [:]) { _, later in later } }
        return values
    }

    /// The NAMEs of `metrics.NAME` in a sort or filter, in order.
    static func metricNames(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let range = rest.range(of: "metrics.") {
            let name = rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber || "_-./:".contains($0) }
            if !name.isEmpty, !names.contains(String(name)) { names.append(String(name)) }
            rest = rest[range.upperBound...]
        }
        return names
    }
}

/// `conduit workers` (`conduit workers list`).
struct WorkersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List workers with their capabilities and running attempts.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let workers = try await client.client().workers()
            if json {
                printJSON(workers)
                return ExitStatus.success
            }
            if workers.isEmpty { print("no workers have registered: start one with `conduit worker --coordinator tcp://HOST:5555`") }
            for worker in workers { print(Self.describe(worker)) }
            return ExitStatus.success
        }
    }
}

extension WorkersListCommand {
    /// A worker in a few lines: what it has, what is free, its GPUs and what holds them.
    static func describe(_ worker: WorkerReport) -> String {
        let capabilities = worker.capabilities
        let labels = capabilities.labels.isEmpty ? "any step" : "labels " + capabilities.labels.joined(separator: ",")
        var disk = ""
        if capabilities.diskFreeBytes > 0 { disk = ", \(ByteCount.format(capabilities.diskFreeBytes)) free disk" }
        let state = !worker.connected ? "gone" : worker.usage?.draining == true ? "draining" : "connected"
        var lines = [
            "\(worker.id)  \(state)  \(capabilities.hostname)  \(capabilities.cores) cores, \(ByteCount.format(capabilities.memoryBytes)) memory\(disk), \(capabilities.slots) slots, \(labels)"
        ]
        if let usage = worker.usage {
            let freeCores = Double(usage.cpuCapacityMillicores - usage.cpuMillicores) / 1000
            let coresText = freeCores == freeCores.rounded() ? String(Int(freeCores)) : String(format: "%.1f", freeCores)
            let freeMemory = ByteCount.format(max(0, capabilities.memoryBytes - usage.memoryBytes))
            let freeGPUs = capabilities.gpus.count - usage.leasedGPUs.count
            var free = "  free: \(coresText) of \(usage.cpuCapacityMillicores / 1000) cores, \(freeMemory) memory, \(max(0, usage.slots - usage.attempts)) of \(usage.slots) slots"
            if !capabilities.gpus.isEmpty { free += ", \(freeGPUs) of \(capabilities.gpus.count) GPUs" }
            lines.append(free)
        }
        if !worker.runningAttempts.isEmpty {
            lines.append("  running: " + worker.runningAttempts.joined(separator: ", "))
        }
        for gpu in capabilities.gpus {
            var line = "  GPU \(gpu.index)  \(gpu.name)  \(ByteCount.format(gpu.memoryBytes))"
            if !gpu.computeCapability.isEmpty { line += "  cc \(gpu.computeCapability)" }
            line += "  \(gpu.uuid)"
            if gpu.simulated { line += "  (simulated)" }
            if let holder = worker.usage?.leasedGPUs[gpu.index] { line += "  leased to \(holder)" } else if worker.connected { line += "  free" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// `conduit logs RUN STEP`.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a step's output (stdout and stderr), optionally following it.")

    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "The step name (nested steps as node/child).")
    var step: String

    @Flag(name: .shortAndLong, help: "Keep printing until the step ends.")
    var follow = false

    @Option(help: ArgumentHelp("Print this attempt's log (1 is the first, 2 the first retry; `conduit status RUN` lists them) instead of the latest.", valueName: "N"))
    var attempt: Int?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let attempt, attempt < 1 { throw ValidationError("--attempt counts from 1 (the first attempt), got \(attempt)") }
    }

    func run() async throws {
        try await withCLIErrors {
            let client = try await client.client()
            var offset: Int64 = 0
            while true {
                let (bytes, finished) = try await client.logs(run: run, step: step, attempt: attempt, offset: offset)
                if !bytes.isEmpty {
                    FileHandle.standardOutput.write(Data(bytes))
                    offset += Int64(bytes.count)
                }
                if !follow || (finished && bytes.isEmpty) { break }
                if bytes.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
            }
            return ExitStatus.success
        }
    }
}

/// `conduit cancel RUN`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a run: queued steps are dropped, running ones killed.")

    @Argument(help: "The run id.")
    var run: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let report = try await client.client().cancel(run: run)
            print("run \(report.run): \(report.status.rawValue)")
            return ExitStatus.success
        }
    }
}

/// `conduit download RUN OUTPUT DIR` and `conduit download RUN STEP.OUTPUT DIR`.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Copy an output of a run to DIR/OUTPUT: a pipeline output, or any step's output as STEP.OUTPUT (with --mlflow, a step's MLflow store)."
    )

    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "A pipeline output name, or STEP.OUTPUT for a step's output (a step inside a pipeline component: node/child.OUTPUT).")
    var output: String

    @Argument(help: "The directory to copy it into.")
    var directory: String

    @Flag(help: "Copy the MLflow store of step OUTPUT (its runs' artifacts and logged models) to DIR/mlruns instead.")
    var mlflow = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let client = try await client.client()
            let report = try await client.report(run: run)
            let found = mlflow
                ? try await OutputReference.mlflowStore(ofStep: output, in: report) { try await client.report(run: $0) }
                : try OutputReference.locate(output, in: report)
            try OutputDownloader.checkOutputName(found.name)
            let destination = (directory as NSString).appendingPathComponent(found.name)
            try await OutputDownloader.download(artifact: found.artifact, to: destination, client: client)
            print(destination)
            return ExitStatus.success
        }
    }
}

/// `conduit explain RUN STEP`.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Say why a step ran or was reused; for a re-run, name each field that changed."
    )

    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "The step name (nested steps as node/child).")
    var step: String

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let explanation = try await client.client().explain(run: run, step: step)
            if json {
                printJSON(explanation)
                return ExitStatus.success
            }
            print("\(explanation.step) in \(explanation.run): \(explanation.decision)")
            print("  \(explanation.summary)")
            if explanation.decision == "ran", let compared = explanation.comparedRun {
                print("  compared with run \(compared), the nearest earlier execution of \(explanation.step)")
            }
            for difference in explanation.differences { print("  - \(difference)") }
            return ExitStatus.success
        }
    }
}
