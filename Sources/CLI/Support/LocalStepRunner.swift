import Artifacts
import Coordinator
import Foundation
import Protocol
import Spec
import Worker

/// What `conduit step run --local` found: where the outputs went and whether each matches the
/// output the run recorded.
struct StepReplayResult: Encodable {
    struct Output: Encodable {
        var name: String
        var path: String
        /// The artifact digest of what the replay produced; nil when it produced nothing there,
        /// or when the command failed (a failed command's outputs are not compared).
        var artifact: String?
        /// What the run recorded; nil when it recorded none (the step did not complete).
        var recorded: String?
        /// Whether `artifact` equals `recorded`; nil when either is missing.
        var matches: Bool?
    }

    var run: String
    var step: String
    var directory: String
    var workingDirectory: String
    var command: String
    var exitCode: Int32?
    var signal: Int32?
    var outputs: [Output]
    /// Each metric the run recorded (`a`) or the replay wrote to `$CONDUIT_METRICS_FILE` (`b`).
    var metrics: [MetricDelta]
    /// Parameters and data inputs the replay changed.
    var changed: [String]

    /// The process's exit status for the CLI: the command's, or 128 + the signal.
    var exitStatus: Int32 { exitCode ?? (128 + (signal ?? 0)) }
}

/// Replays one recorded step in a local directory: downloads its code and input artifacts,
/// renders its command with local paths (and any `--set` changes), runs it, and compares the
/// outputs with the recorded ones.
struct LocalStepRunner {
    var run: String
    var step: String
    var codeDirectory: String?
    var directory: String?
    var overrides: [String]
    var json: Bool
    var client: any CoordinatorClient

    func replay() async throws -> StepReplayResult {
        let detail = try await client.stepDetail(run: run, step: step)
        let planned: PlannedStep
        do {
            planned = try JSONDecoder().decode(PlannedStep.self, from: Data(detail.plannedStepJSON.utf8))
        } catch {
            throw CLIError("the coordinator's description of step \(step) does not decode: \(error)", exitCode: ExitStatus.unavailable)
        }
        let fileManager = FileManager.default
        let here = fileManager.currentDirectoryPath
        let changes: StepOverrides
        do {
            changes = try StepOverrides.parse(overrides, for: planned, currentDirectory: here)
        } catch {
            throw CLIError("error: \(error)")
        }
        for (name, path) in changes.dataPaths where !fileManager.fileExists(atPath: path) {
            throw CLIError("--set inputs.\(name): \(path) does not exist")
        }
        var template = planned.command
        if !changes.parameters.isEmpty {
            do {
                template = try planned.command(withParameters: planned.parameters.merging(changes.parameters) { _, new in new })
            } catch {
                throw CLIError("error: \(error)")
            }
        }

        let root = Self.absolute(directory ?? "conduit-step-\(step.replacingOccurrences(of: "/", with: "_"))-\(run)", from: here)
        if let existing = try? fileManager.contentsOfDirectory(atPath: root), !existing.isEmpty {
            throw CLIError("\(root) exists and is not empty: pass --dir with a new or empty directory, or remove it")
        }
        try fileManager.createDirectory(atPath: root + "/outputs", withIntermediateDirectories: true)
        let note = { (text: String) in FileHandle.standardError.write(Data("\(text)\n".utf8)) }

        // The code: the user's folder, the recorded snapshot, or none (the step runs in an empty
        // DIR/work). As on a worker, the declared outputs (DIR/outputs/NAME), the metrics file and
        // the MLflow store are outside the working directory, so the step's `./outputs` is its own.
        let workingDirectory: String
        if let codeDirectory {
            var isDirectory: ObjCBool = false
            let path = Self.absolute(codeDirectory, from: here)
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError("--code \(codeDirectory): no such directory")
            }
            workingDirectory = path
        } else if let code = detail.code {
            note("fetching the code of \(step) from run \(run)")
            try await OutputDownloader.download(artifact: code, to: root + "/code", client: client)
            workingDirectory = root + "/code"
        } else {
            workingDirectory = root + "/work"
            try fileManager.createDirectory(atPath: workingDirectory, withIntermediateDirectories: true)
        }
        // As on a worker (and Azure ML), `./outputs` and `./logs` exist when the command starts.
        for name in ["outputs", "logs"] where (try? fileManager.attributesOfItem(atPath: workingDirectory + "/" + name)) == nil {
            try fileManager.createDirectory(atPath: workingDirectory + "/" + name, withIntermediateDirectories: false)
        }
        var inputPaths: [String: String] = [:]
        for input in detail.inputs {
            if let path = changes.dataPaths[input.name] {
                inputPaths[input.name] = path
            } else if let uri = input.uri {
                inputPaths[input.name] = uri
            } else if let artifact = input.artifact {
                try OutputDownloader.checkOutputName(input.name)
                let path = root + "/inputs/" + input.name
                note("fetching input \(input.name) (\(artifact.prefix(12)))")
                try await OutputDownloader.download(artifact: artifact, to: path, client: client)
                inputPaths[input.name] = path
            }
        }
        var outputPaths: [String: String] = [:]
        for output in planned.outputs {
            try OutputDownloader.checkOutputName(output.name)
            if output.isDefaultArtifacts {
                // Collected from the working directory once the command has run.
                outputPaths[output.name] = root + "/default-artifacts"
                continue
            }
            let path = root + "/outputs/" + output.name
            if !output.type.isFile { try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true) }
            outputPaths[output.name] = path
        }
        let rendered: CommandTemplate.Rendered
        do {
            rendered = try template.render(inputPaths: inputPaths, outputPaths: outputPaths)
        } catch {
            throw CLIError("the step's command cannot be rendered: \(error.message)")
        }
        var environment = ProcessInfo.processInfo.environment
        environment.merge(planned.environmentVariables) { _, new in new }
        environment.merge(rendered.environment) { _, new in new }
        environment["CONDUIT_METRICS_FILE"] = root + "/metrics.jsonl"
        environment.merge(MLflowFileStore.environment(attemptDirectory: root, stepEnvironment: planned.environmentVariables)) { _, new in new }
        if let setup = planned.environmentSetup, setup.kind != .workerPython {
            // Built (or found) where the embedded worker of `conduit run` keeps its environments, so
            // the two share one build per digest.
            let builds = EnvironmentBuilds(
                root: EmbeddedSystem.defaultDataDirectory + "/worker/envs", baseEnvironment: ProcessInfo.processInfo.environment
            )
            note("preparing the environment \(setup.label) (\(setup.pythonDescription))")
            let prepared = await builds.prepare(CoordinatorService.dispatchEnvironment(setup)) { text in
                FileHandle.standardError.write(Data(text.utf8))
            }
            // As on a worker: the step's own pip install goes into a layer in this directory.
            let layered: Result<AttemptLayer?, EnvironmentBuilds.BuildFailure> = switch prepared {
            case .success(let prepared):
                await AttemptLayer.create(over: prepared, in: root, label: setup.label, baseEnvironment: ProcessInfo.processInfo.environment)
            case .failure(let failure):
                .failure(failure)
            }
            switch layered {
            case .success(let layer): if let layer { environment = layer.applied(to: environment) }
            case .failure(let failure): throw CLIError(failure.message, exitCode: ExitStatus.runFailed)
            }
        }

        note("running in \(workingDirectory): \(rendered.command)")
        let process: ChildProcess
        do {
            process = try ChildProcess.launch(command: rendered.command, workingDirectory: workingDirectory, environment: environment)
        } catch {
            throw CLIError("cannot start the step's command: \(error.message)")
        }
        // The command's output streams through; with --json all of it goes to stderr.
        for await (kind, bytes) in process.output {
            let handle = kind == .stdout && !json ? FileHandle.standardOutput : FileHandle.standardError
            handle.write(Data(bytes))
        }
        let termination = await process.wait()

        var outputs: [StepReplayResult.Output] = []
        for output in planned.outputs {
            let path = outputPaths[output.name]!
            if output.isDefaultArtifacts, termination.exitCode == 0 {
                try Self.collectDefaultArtifacts(from: workingDirectory, into: path)
            }
            var artifact: String?
            // A failed command's outputs are not results: nothing to compare.
            if termination.exitCode == 0, fileManager.fileExists(atPath: path) {
                let manifest = try? (output.type.isFile
                    ? Snapshot.file(at: path, store: nil, followingLinks: false)
                    : Snapshot.folder(at: path, store: nil, honoringIgnoreFiles: false))
                artifact = manifest?.digest.hex
            }
            let recorded = detail.outputs[output.name]
            let matches: Bool? = if let artifact, let recorded { artifact == recorded } else { nil }
            outputs.append(.init(name: output.name, path: path, artifact: artifact, recorded: recorded, matches: matches))
        }
        let replayed = TrackingCollector.lastValues(metricsFile: root + "/metrics.jsonl", mlruns: root + "/mlruns")
        let metrics = Set(detail.metrics.keys).union(replayed.keys).sorted().map { MetricDelta(name: $0, a: detail.metrics[$0], b: replayed[$0]) }
        let changed = changes.parameters.keys.sorted().map { "parameter \($0): \(planned.parameters[$0] ?? "") → \(changes.parameters[$0]!)" }
            + changes.dataPaths.keys.sorted().map { "input \($0): \(changes.dataPaths[$0]!)" }
        return StepReplayResult(
            run: run, step: step, directory: root, workingDirectory: workingDirectory, command: rendered.command,
            exitCode: termination.exitCode, signal: termination.signal, outputs: outputs, metrics: metrics, changed: changed
        )
    }

    /// Fills `path` with copies of the `outputs/` and `logs/` the command left in
    /// `workingDirectory` (the step's default artifacts; a missing one is an empty folder). Copied,
    /// not moved: the working directory may be the user's own `--code` folder.
    static func collectDefaultArtifacts(from workingDirectory: String, into path: String) throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true)
        for name in ["outputs", "logs"] {
            let source = workingDirectory + "/" + name
            if (try? fileManager.attributesOfItem(atPath: source)) != nil {
                do {
                    try fileManager.copyItem(atPath: source, toPath: path + "/" + name)
                } catch {
                    throw CLIError("cannot copy \(source) into the step's artifacts at \(path): \(error.localizedDescription)")
                }
            } else {
                try fileManager.createDirectory(atPath: path + "/" + name, withIntermediateDirectories: true)
            }
        }
    }

    static func absolute(_ path: String, from directory: String) -> String {
        ((path.hasPrefix("/") ? path : directory + "/" + path) as NSString).standardizingPath
    }

    /// The human summary.
    static func lines(of result: StepReplayResult) -> [String] {
        var lines: [String] = []
        let status = result.exitCode.map { "exit code \($0)" } ?? "killed by signal \(result.signal ?? 0)"
        lines.append("step \(result.step) of \(result.run): \(status)")
        for change in result.changed { lines.append("  changed \(change)") }
        for output in result.outputs {
            let verdict: String
            switch (output.artifact, output.recorded, output.matches) {
            case (nil, _, _) where result.exitCode != 0: verdict = "not compared: the command failed"
            case (nil, _, _): verdict = "not produced"
            case (_, nil, _): verdict = "produced; run \(result.run) recorded no output to compare"
            case (_, _, true?): verdict = "matches run \(result.run)"
            default: verdict = "DIFFERS from run \(result.run) (recorded \(output.recorded!.prefix(12)), now \(output.artifact!.prefix(12)))"
            }
            lines.append("output \(output.name): \(output.path)  \(verdict)")
        }
        for metric in result.metrics { lines.append("metric \(IterationPrinter.describe(metric)) (run → replay)") }
        return lines
    }
}
