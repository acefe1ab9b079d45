import ArgumentParser
import Foundation
import Protocol

/// `conduit rerun RUN [--from STEP] [--dry-run]`.
struct RerunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerun",
        abstract: "Run a finished run again from what it recorded, reusing every step still valid.",
        discussion: """
            The new run uses the recorded plan, code and local data of RUN (not the files as they are now; \
            use `conduit submit` for that). With --from STEP, STEP and every step downstream of it run \
            even when a cached result exists. Prints the new run id (or follows it with --wait).
            """
    )

    @Argument(help: "The run to run again.")
    var run: String

    @Option(help: "Force this step and everything downstream of it to run.")
    var from: String?

    @Flag(name: .customLong("dry-run"), help: "Print what would run and what would be reused, and why; submit nothing.")
    var dryRun = false

    @Flag(help: "Follow the new run to its end, printing progress; exit non-zero if it fails.")
    var wait = false

    @Option(name: .customLong("output-dir"), help: "With --wait: copy pipeline outputs to DIR/OUTPUT_NAME.")
    var outputDirectory: String?

    @Flag(help: "Print JSON: the plan with --dry-run, the run id, or with --wait the whole run.")
    var json = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if dryRun && (wait || outputDirectory != nil) { throw ValidationError("--dry-run submits nothing: it cannot be combined with --wait or --output-dir") }
        if outputDirectory != nil && !wait { throw ValidationError("--output-dir needs --wait") }
    }

    func run() async throws {
        try await withCLIErrors {
            let client = try await client.client()
            let response = try await client.rerun(run: run, request: RerunRequest(from: from, dryRun: dryRun))
            if dryRun {
                guard let plan = response.plan else { throw CLIError("the coordinator returned no plan for the dry run", exitCode: ExitStatus.unavailable) }
                if json {
                    printJSON(plan)
                } else {
                    if !response.forced.isEmpty { print("forced: \(response.forced.joined(separator: ", "))") }
                    IterationPrinter.lines(of: plan).forEach { print($0) }
                }
                return ExitStatus.success
            }
            guard let newRun = response.run else { throw CLIError("the coordinator returned no run id", exitCode: ExitStatus.unavailable) }
            guard wait else {
                if json { printJSON(["run": newRun]) } else { print(newRun) }
                return ExitStatus.success
            }
            let progress = ProgressPrinter(enabled: true)
            progress.note("run \(newRun): re-run of \(run)\(response.forced.isEmpty ? "" : ", forcing \(response.forced.joined(separator: ", "))")")
            let report = try await RunFollower.follow(run: newRun, client: client, progress: progress)
            var outputs = report.outputs
            if let outputDirectory {
                outputs = try await OutputDownloader.download(run: newRun, into: outputDirectory, client: client)
            }
            return RunFollower.finish(report, outputs: outputs, json: json)
        }
    }
}

/// `conduit diff RUN_A RUN_B`.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two runs step by step: what changed, what ran, and the metric deltas.",
        discussion: """
            For each step both runs have: whether it ran or was reused in each, what differs in B from A \
            (parameters, code files, environment, input contents, command), whether the outputs are the same, \
            and each metric in A and B with B − A. Steps only one run has are listed after the table.
            """
    )

    @Argument(help: "The first run (A).")
    var runA: String

    @Argument(help: "The second run (B).")
    var runB: String

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let diff = try await client.client().diff(a: runA, b: runB)
            if json { printJSON(diff) } else { IterationPrinter.lines(of: diff).forEach { print($0) } }
            return ExitStatus.success
        }
    }
}

/// `conduit step ...`.
struct StepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step", abstract: "Work with one step of a run.", subcommands: [StepRunCommand.self]
    )
}

/// `conduit step run RUN STEP --local`.
struct StepRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Replay one step of a run on this machine with its recorded inputs, and compare its outputs.",
        discussion: """
            Downloads the step's code and its exact recorded input artifacts from the coordinator into DIR \
            (code/, inputs/NAME, outputs/NAME), runs its command there with `bash -c` (output streamed), then \
            prints each output's path and whether it matches what the run recorded. Nothing runs on the \
            coordinator or its workers. The step runs with this shell's environment plus the node's \
            environment_variables, in its environment: (a virtual environment built here once per digest, \
            shared with `conduit run`, or a mapped interpreter); MLflow logging goes to DIR/mlruns. \
            Exit status: the command's (128 + N when killed by signal N).
            """
    )

    @Argument(help: "The run id.")
    var run: String

    @Argument(help: "The step name (nested steps as node/child).")
    var step: String

    @Flag(help: "Run here, in a local directory (the only mode so far).")
    var local = false

    @Option(help: "Run with this code folder instead of the recorded code (e.g. your edited checkout).")
    var code: String?

    @Option(name: .customLong("dir"), help: "Where to put code, inputs and outputs (default: ./conduit-step-STEP-RUN; must be new or empty).")
    var directory: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Change a parameter (inputs.NAME=VALUE) or replace a data input by a local path (inputs.NAME=PATH) (repeatable).", valueName: "inputs.NAME=VALUE"))
    var overrides: [String] = []

    @Flag(help: "Print one JSON object at the end (the command's own output goes to stderr).")
    var json = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if !local { throw ValidationError("only local replays are supported: pass --local (the step runs on this machine, not on a worker)") }
    }

    func run() async throws {
        try await withCLIErrors {
            let result = try await LocalStepRunner(
                run: run, step: step, codeDirectory: code, directory: directory, overrides: overrides, json: json,
                client: try await client.client()
            ).replay()
            if json { printJSON(result) } else { LocalStepRunner.lines(of: result).forEach { print($0) } }
            return result.exitStatus
        }
    }
}
