import ArgumentParser
import Foundation
import Logging

/// `conduit run`: a coordinator and a local worker in this process.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline on this machine (embedded coordinator and worker).",
        discussion: """
            Results are kept in the data directory (default $CONDUIT_HOME or ~/.conduit), so running the same pipeline again reuses every unchanged step. Every compute: name runs on the local worker. Pipeline outputs are copied to OUTPUT-DIR/OUTPUT_NAME.
            """
    )

    @Argument(help: "The pipeline YAML file.")
    var pipeline: String

    @OptionGroup var overrides: OverrideOptions

    @Option(name: .customLong("output-dir"), help: "Where pipeline outputs are copied.")
    var outputDirectory: String = "conduit-outputs"

    @Option(name: .customLong("data-dir"), help: "Data directory for runs, cache and artifacts (default: $CONDUIT_HOME or ~/.conduit).")
    var dataDirectory: String?

    @OptionGroup var datastores: DatastoreOptions

    @Option(help: "Steps the local worker runs at once (default: the number of cores).")
    var slots: Int?

    @Option(name: .customLong("force"), help: "Run this step even if a cached result exists (repeatable).")
    var force: [String] = []

    @Flag(help: "Print one JSON object describing the run at the end.")
    var json = false

    @Flag(name: .customLong("dry-run"), help: "Print what would run and what would be reused, and why; run nothing.")
    var dryRun = false

    @Flag(help: "Print the steps' output as they run, each line prefixed with its step's name (on standard error).")
    var logs = false

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1") }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .warning)
        MemoryTuning.keepLargeBuffers()
        try await withCLIErrors {
            let loaded = try SubmissionBuilder.load(file: pipeline, options: overrides.loadOptions())
            let progress = ProgressPrinter(enabled: true, logs: logs, plan: loaded)
            let plan = loaded
            for warning in loaded.warnings { progress.note("warning: \(warning)") }
            let file = pipeline
            let options = overrides.loadOptions()
            let data = dataDirectory ?? EmbeddedSystem.defaultDataDirectory
            let output = outputDirectory
            let force = force
            let json = json
            let slots = slots ?? ProcessInfo.processInfo.activeProcessorCount
            let datastores = try datastores.directories()
            let dryRun = dryRun
            return try await EmbeddedSystem.with(dataDirectory: data, slots: slots, datastores: datastores, logger: Logger(label: "conduit")) { client in
                let plan = try await SubmissionBuilder.checkingRegisteredData(plan, file: file, options: options, client: client)
                if dryRun {
                    let report = try await SubmissionBuilder.dryRun(plan: plan, force: force, client: client)
                    if json { printJSON(report) } else { IterationPrinter.lines(of: report).forEach { print($0) } }
                    return ExitStatus.success
                }
                let run = try await SubmissionBuilder.submit(plan: plan, force: force, client: client, progress: progress)
                progress.note("run \(run): \(plan.name), \(plan.steps.count) step\(plan.steps.count == 1 ? "" : "s")")
                let report = try await RunFollower.follow(run: run, client: client, progress: progress, workersAreFixed: true)
                let outputs = try await OutputDownloader.download(run: run, into: output, client: client)
                return RunFollower.finish(report, outputs: outputs, json: json)
            }
        }
    }
}

/// `conduit validate`: load and check a pipeline without running it.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a pipeline file and print its steps, without running anything."
    )

    @Argument(help: "The pipeline YAML file.")
    var pipeline: String

    @OptionGroup var overrides: OverrideOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let plan = try SubmissionBuilder.load(file: pipeline, options: overrides.loadOptions())
            for warning in plan.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            if json {
                printJSON(plan)
            } else {
                print("\(pipeline): valid pipeline \"\(plan.name)\" with \(plan.steps.count) step\(plan.steps.count == 1 ? "" : "s")")
                for step in plan.steps {
                    let after = step.upstreamSteps
                    print("  \(step.name)\(after.isEmpty ? "" : " (after \(after.joined(separator: ", ")))")\(step.compute.map { " on \($0)" } ?? "")")
                }
                for (step, input, reference) in SubmissionBuilder.dataLeftToCoordinator(plan) {
                    print("  note: \(step) input \(input) reads \(reference), which the local registry does not hold; the coordinator resolves it at submission among the outputs runs registered")
                }
            }
            return ExitStatus.success
        }
    }
}
