import ArgumentParser
import Foundation
import Logging
import Synchronization

/// `conduit run`: a pipeline on this machine, through the local service.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline on this machine (through the local service, started when needed).",
        discussion: """
            The run goes to the local service of the data directory (default $CONDUIT_HOME, else $HOME/.conduit),             which keeps every run, so running the same pipeline again reuses every unchanged step; several             `conduit run`s at once share its worker's slots, and `conduit status`, `runs` and `logs` work from             any terminal meanwhile. Every compute: name runs on the local worker. Pipeline outputs are copied to             conduit-outputs/RUN/OUTPUT_NAME (conduit-outputs/latest points at the newest), or to             OUTPUT-DIR/OUTPUT_NAME with --output-dir.

            Ctrl-C cancels the run (its processes are stopped and it is recorded as canceled) and says so; a             second Ctrl-C exits at once. --detach submits and prints the run id.
            """
    )

    @Argument(help: "The pipeline YAML file.")
    var pipeline: String

    @OptionGroup var overrides: OverrideOptions

    @Option(name: .customLong("output-dir"), help: "Where pipeline outputs are copied (default: conduit-outputs/RUN, with conduit-outputs/latest pointing at it).")
    var outputDirectory: String?

    @Option(name: .customLong("data-dir"), help: "Data directory for runs, cache and artifacts (default: $CONDUIT_HOME, else $HOME/.conduit).")
    var dataDirectory: String?

    @OptionGroup var datastores: DatastoreOptions

    @Option(help: "Steps the local worker runs at once, when this command starts the local service (default: the number of cores).")
    var slots: Int?

    @Option(name: .customLong("force"), help: "Run this step even if a cached result exists (repeatable).")
    var force: [String] = []

    @Flag(help: "Print one JSON object describing the run at the end.")
    var json = false

    @Flag(name: .customLong("dry-run"), help: "Print what would run and what would be reused, and why; run nothing.")
    var dryRun = false

    @Flag(help: "Submit, print the run id and return; the run goes on in the local service.")
    var detach = false

    @Flag(help: "Print the steps' output as they run, each line prefixed with its step's name (on standard error).")
    var logs = false

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1") }
        if detach && (dryRun || outputDirectory != nil) { throw ValidationError("--detach returns at once: it cannot be combined with --dry-run or --output-dir") }
        if detach && logs { throw ValidationError("--detach returns at once: it cannot be combined with --logs (follow one step with `conduit logs RUN STEP --follow`)") }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: logging.logLevel, defaultLevel: .warning, format: logging.logFormat)
        MemoryTuning.keepLargeBuffers()
        try await withCLIErrors {
            let loaded = try SubmissionBuilder.load(file: pipeline, options: overrides.loadOptions())
            let progress = ProgressPrinter(enabled: !detach, logs: logs, plan: loaded)
            for warning in loaded.warnings { progress.note("warning: \(warning)") }
            let data = dataDirectory ?? EmbeddedSystem.defaultDataDirectory
            let client = try await LocalService.client(dataDirectory: data, slots: slots, datastores: try datastores.directories())
            let plan = try await SubmissionBuilder.checkingRegisteredData(loaded, file: pipeline, options: overrides.loadOptions(), client: client)
            if dryRun {
                let report = try await SubmissionBuilder.dryRun(plan: plan, force: force, client: client)
                if json { printJSON(report) } else { IterationPrinter.lines(of: report).forEach { print($0) } }
                return ExitStatus.success
            }
            // Ctrl-C from here on cancels the run, even one still being submitted.
            let submitted = Mutex<String?>(nil)
            let interrupted = detach ? nil : Interrupts.handle {
                guard let run = submitted.withLock({ $0 }) else {
                    FileHandle.standardError.write(Data("conduit: Ctrl-C: the run is canceled as soon as it is submitted (Ctrl-C again to exit at once)\n".utf8))
                    return
                }
                // Through the progress printer: on a terminal it goes above the running steps.
                progress.note("canceling run \(run) (Ctrl-C again to exit at once)")
                Task { _ = try? await client.cancel(run: run) }
            }
            defer { interrupted?.stop() }
            let run = try await SubmissionBuilder.submit(plan: plan, force: force, client: client, progress: progress)
            submitted.withLock { $0 = run }
            if detach {
                if json { printJSON(["run": run]) } else { print(run) }
                return ExitStatus.success
            }
            if interrupted?.happened == true {
                FileHandle.standardError.write(Data("conduit: canceling run \(run)\n".utf8))
                _ = try? await client.cancel(run: run)
            }
            progress.note("run \(run): \(plan.name), \(plan.steps.count) step\(plan.steps.count == 1 ? "" : "s")")
            let report = try await RunFollower.follow(run: run, client: client, progress: progress, workersAreFixed: true)
            let directory = outputDirectory ?? "conduit-outputs/\(run)"
            let outputs = try await OutputDownloader.download(run: run, into: directory, client: client)
            if outputDirectory == nil, !outputs.isEmpty { OutputDownloader.pointLatest(at: run, in: "conduit-outputs") }
            let status = RunFollower.finish(report, outputs: outputs, json: json)
            if interrupted?.happened == true, report.status == .canceled {
                FileHandle.standardError.write(Data("conduit: run \(run) was canceled by Ctrl-C\n".utf8))
                return ExitStatus.interrupted
            }
            return status
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
