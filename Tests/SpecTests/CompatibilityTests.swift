import Foundation
import TestKit
import Testing
@testable import Spec

/// The compatibility suite: pipelines under `Tests/Compatibility`, one or more per row of the
/// grammar reference Conduit implements (each file's first lines name its rows). `valid/` files
/// must load with the meaning Azure ML gives them; `unsupported/` files are valid Azure ML that
/// Conduit refuses precisely. Where the `azure-ai-ml` package is installed, it must load all of
/// them too (`azureMLLoadsEveryFile`).
struct CompatibilityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Compatibility").path

    static func files(in folder: String) -> [String] {
        let directory = root + "/" + folder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yml") && $0 != "trial.yml" }.sorted().map { directory + "/" + $0 }
    }

    static func load(_ name: String, overrides: [String] = []) throws -> PipelinePlan {
        try PipelineLoader.load(file: root + "/valid/" + name, overrides: overrides)
    }

    /// The command with data placeholders shown as `<in:NAME>`/`<out:NAME>`.
    static func text(_ step: PlannedStep) -> String {
        step.command.segments.map { segment -> String in
            switch segment {
            case .text(let text), .value(let text): return text
            case .inputPath(let name): return "<in:\(name)>"
            case .outputPath(let name): return "<out:\(name)>"
            }
        }.joined()
    }

    @Test func theSuiteHasEveryFileItNames() {
        #expect(Self.files(in: "valid").count >= 9)
        #expect(Self.files(in: "unsupported").count == 3)
    }

    @Test func jobKeysAndSettings() throws {
        let plan = try Self.load("job-keys.yml")
        #expect(plan.name == "Every job-level key")
        #expect(plan.experimentName == "compat")
        #expect(plan.settings.continueOnStepFailure)
        #expect(!plan.settings.forceRerun)
        #expect(plan.settings.defaultDatastore == "workspaceblobstore")
        #expect(plan.step("hello")?.compute == "azureml:cpu-default")
        #expect(plan.step("elsewhere")?.compute == "local")
        #expect(plan.warnings.contains { $0.contains("default_datestore") })
    }

    @Test func ignoredNodeKeysWarnWithWhy() throws {
        let plan = try Self.load("ignored-keys.yml")
        #expect(plan.steps.map(\.name) == ["train"])
        let file = Self.root + "/valid/ignored-keys.yml"
        #expect(plan.warnings.contains { $0.hasPrefix("\(file):11:7: jobs.train.services: 'services' is ignored by Conduit: Conduit starts no interactive services") }, "\(plan.warnings)")
        #expect(plan.warnings.contains { $0.hasPrefix("\(file):14:7: jobs.train.distribution: 'distribution' is ignored by Conduit: Conduit runs a step as one process") }, "\(plan.warnings)")
        #expect(plan.warnings.count == 2, "\(plan.warnings)")
    }

    @Test func inlineSteps() throws {
        let plan = try Self.load("inline-steps.yml")
        let typed = try #require(plan.step("typed"))
        #expect(typed.displayName == "Typed step")
        #expect(typed.parameters == ["greeting": "hello", "count": "3"])
        #expect(typed.upstreamSteps == ["untyped"])
        #expect(typed.environmentVariables == ["MY_FLAG": "1"])
        #expect(typed.timeoutSeconds == 120)
        #expect(typed.compute == "azureml:gpu")
        #expect(typed.codeDirectory == Self.root + "/valid/src")
        #expect(plan.step("untyped")?.compute == "azureml:cpu")
        #expect(plan.step("untyped")?.outputs == [StepDataOutput(name: "out", type: .uriFolder)])
    }

    @Test func componentForms() throws {
        let plan = try Self.load("component-forms.yml")
        let fromFile = Self.text(try #require(plan.step("from_file")))
        #expect(fromFile.contains("--rate 0.5 --epochs 3 --mode fast --verbose True"), "\(fromFile)")
        #expect(!fromFile.contains("--table") && !fromFile.contains("--l2"), "\(fromFile)")
        let scheme = try #require(plan.step("from_file_scheme"))
        #expect(Self.text(scheme).contains("--table <in:table>"))
        #expect(Self.text(scheme).contains("--l2 0.01"))
        #expect(scheme.inputs.first { $0.name == "table" }?.mode == "eval_mount")
        #expect(scheme.inputs.first { $0.name == "data" }?.mode == "ro_mount")
        #expect(plan.step("from_file")?.displayName == "Train")
        #expect(plan.step("inline_dict")?.isDeterministic == false)
        #expect(plan.step("overridden")?.commandTemplate.hasPrefix("python main.py --data") == true)
        #expect(plan.step("from_file")?.outputs.map(\.type) == [.mlflowModel, .uriFile])
    }

    @Test func inputValues() throws {
        let plan = try Self.load("inputs.yml")
        #expect(plan.step("params")?.parameters == ["a": "20", "b": "1.8", "c": "False", "d": "1e-05", "e": "1e-3", "f": "1e+16"])
        let data = try #require(plan.step("data"))
        func input(_ name: String) -> StepDataInput? { data.inputs.first { $0.name == name } }
        let folder = Self.root + "/valid/data/folder"
        #expect(input("file_input")?.source == .localPath(Self.root + "/valid/data/table.csv"))
        #expect(input("file_scheme")?.source == .localPath(Self.root + "/valid/data/table.csv"))
        #expect(input("folder_untyped")?.type == .uriFolder)
        #expect(input("folder_download")?.mode == "download")
        #expect(input("table_input")?.type == .mltable)
        #expect(input("model_input")?.type == .customModel)
        #expect(input("mlflow_input")?.type == .mlflowModel)
        #expect(input("web_file")?.source == .uri("https://example.com/data/titanic.csv"))
        #expect(input("datastore_folder")?.source == .uri("azureml://datastores/workspaceblobstore/paths/compat/"))
        #expect(input("direct")?.mode == "direct")
        #expect(input("direct")?.source == .localPath(folder))
    }

    @Test func outputForms() throws {
        let plan = try Self.load("outputs.yml")
        let produce = try #require(plan.step("produce"))
        func output(_ name: String) -> StepDataOutput? { produce.outputs.first { $0.name == name } }
        #expect(output("empty")?.type == .uriFolder)
        #expect(output("model")?.type == .mlflowModel)
        #expect(output("file")?.type == .uriFile)
        #expect(output("to_datastore")?.path == "azureml://datastores/workspaceblobstore/paths/compat/${{name}}/${{output_name}}")
        #expect(output("file")?.path == "azureml://datastores/${{default_datastore}}/paths/${{name}}/result.txt")
        #expect(Set(plan.outputs.map(\.name)) == ["final_model", "bound_file", "folder_out"])
        #expect(plan.outputs.first { $0.name == "folder_out" }?.output == "folder")
    }

    @Test func expressions() throws {
        let plan = try Self.load("expressions.yml")
        #expect(plan.step("first")?.parameters == ["word": "hello"])
        let second = try #require(plan.step("second"))
        #expect(second.parameters["word"] == "hello")
        #expect(second.upstreamSteps == ["first"])
        let text = Self.text(second)
        #expect(text.contains("--defaulted 5"), "\(text)")
        #expect(!text.contains("--optional"), "\(text)")
        #expect(text.contains("--name $[[inputs.word]]"), "\(text)")
    }

    /// Rule: `./outputs` and `./logs` are a step's default artifacts, bound as the undeclared node
    /// output `artifacts`; only steps whose artifacts something binds collect them.
    @Test func workingDirectoryConventions() throws {
        let plan = try Self.load("working-directory.yml")
        let hello = try #require(plan.step("hello"))
        #expect(hello.outputs == [StepDataOutput(name: "artifacts", type: .uriFolder, isDefaultArtifacts: true)])
        #expect(plan.outputs == [PipelineOutputBinding(name: "hello_artifacts", type: .uriFolder, step: "hello", output: "artifacts")])
        let read = try #require(plan.step("read"))
        #expect(read.inputs.map(\.source) == [.stepOutput(step: "hello", output: "artifacts")])
        #expect(read.upstreamSteps == ["hello"])
        #expect(read.outputs.isEmpty, "nothing binds the artifacts of `read`: it collects none")
        let component = try #require(plan.step("from_component"))
        #expect(component.outputs == [
            StepDataOutput(name: "result", type: .uriFolder),
            StepDataOutput(name: "artifacts", type: .uriFolder, isDefaultArtifacts: true),
        ])
        let readComponent = try #require(plan.step("read_component"))
        #expect(Set(readComponent.inputs.map(\.source)) == [
            .stepOutput(step: "from_component", output: "artifacts"), .stepOutput(step: "from_component", output: "result"),
        ])
    }

    /// Rule: literal text a command keeps (`$[[inputs.NAME]]` with no `${{ }}` inside) reaches the
    /// program as written, in every quoting, and the loader warns that it binds nothing.
    @Test func literalTextReachesTheProgramLiterally() throws {
        let plan = try Self.load("literal-text.yml")
        let say = try #require(plan.step("say"))
        let warning = try #require(plan.warnings.first { $0.contains("$[[inputs.word]] holds no ${{ }} reference") }, "\(plan.warnings)")
        #expect(warning.hasPrefix(Self.root + "/valid/literal-text.yml:9:"), "\(warning)")
        #expect(warning.contains("jobs.say.component.command"), "\(warning)")
        #expect(warning.contains("$[[--word ${{inputs.word}}]]"), "\(warning)")
        #expect(plan.warnings.count { $0.contains("holds no") } == 1, "one warning for the field, not one per segment: \(plan.warnings)")
        let rendered = try say.command.render(inputPaths: [:], outputPaths: [:])
        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-c", rendered.command]
        bash.environment = rendered.environment
        let pipe = Pipe()
        bash.standardOutput = pipe
        try bash.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        bash.waitUntilExit()
        #expect(bash.terminationStatus == 0)
        #expect(output == "$[[inputs.word]] $[[inputs.word]] $[[inputs.word]] hello\n", "\(rendered.command)")
    }

    @Test func pipelineComponents() throws {
        let plan = try Self.load("pipeline-component.yml")
        #expect(plan.steps.map(\.name) == ["a/train", "a/summarize", "b/train", "b/summarize", "compare"])
        #expect(plan.step("a/train")?.compute == "azureml:gpu")
        #expect(plan.step("b/train")?.compute == "local")
        #expect(plan.step("a/train")?.parameters["rate"] == "0.1")
        #expect(plan.step("b/train")?.parameters["rate"] == "0.2")
        #expect(Set(plan.step("compare")?.upstreamSteps ?? []) == ["a/summarize", "b/summarize"])
        #expect(plan.outputs == [PipelineOutputBinding(name: "best_model", type: .mlflowModel, step: "a/train", output: "model")])
    }

    @Test func aJobMadeOfAPipelineComponent() throws {
        let plan = try Self.load("component-job.yml")
        #expect(plan.steps.map(\.name) == ["train", "summarize"])
        #expect(plan.step("train")?.compute == "azureml:cpu")
        #expect(plan.step("train")?.parameters["rate"] == "0.3")
        #expect(plan.outputs.map(\.name) == ["model", "summary"])
        let changed = try Self.load("component-job.yml", overrides: ["inputs.rate=0.4", "settings.default_compute=azureml:big"])
        #expect(changed.step("train")?.parameters["rate"] == "0.4")
        #expect(changed.step("summarize")?.compute == "azureml:big")
    }

    @Test func environments() throws {
        let plan = try Self.load("environments.yml")
        #expect(plan.step("bare")?.environmentSetup == nil)
        #expect(plan.step("image_only")?.environmentSetup?.kind == .workerPython)
        let conda = try #require(plan.step("conda_file")?.environmentSetup)
        #expect(conda.kind == .virtualEnvironment)
        #expect(conda.python == "3.11")
        #expect(conda.requirements == ["requests==2.32.3"])
        #expect(plan.step("conda_inline")?.environmentSetup?.digest == conda.digest)
        // Unmapped names run with the worker's python3, with a warning naming each.
        #expect(plan.step("named")?.environmentSetup?.kind == .workerPython)
        #expect(plan.warnings.contains { $0.contains("azureml:compat-env:1") })
        let options = PipelineLoader.Options(environmentsFile: Self.root + "/environments-map.yml")
        let mapped = try PipelineLoader.load(file: Self.root + "/valid/environments.yml", options: options)
        #expect(mapped.step("named")?.environmentSetup?.kind == .virtualEnvironment)
        #expect(mapped.step("named")?.environmentSetup?.requirements == ["requests==2.32.3"])
        #expect(mapped.step("curated")?.environmentSetup?.kind == .interpreter)
        #expect(mapped.step("curated")?.environmentSetup?.python == "/usr/bin/python3")
    }

    @Test(arguments: ["parallel", "spark", "automl"])
    func nodesThatNeedAServiceAreRefusedPrecisely(_ type: String) throws {
        do {
            _ = try PipelineLoader.load(file: Self.root + "/unsupported/\(type).yml")
            Issue.record("\(type).yml was accepted")
        } catch {
            #expect(error.code == .notSupported, "\(error)")
            #expect(error.field?.hasSuffix(".type") == true, "\(error)")
            #expect(error.description.contains("'\(type)'"), "\(error)")
            #expect(error.line == 6, "\(error)")
        }
    }

    @Test func aSweepNode() throws {
        let plan = try Self.load("sweep.yml")
        let trials = plan.steps.filter { $0.trialOf == "sweep_step" }
        #expect(trials.count == 4)
        let sweep = try #require(plan.step("sweep_step")?.sweep)
        #expect(sweep.sampling == .random(seed: 12, seedGiven: true))
        #expect(sweep.limits == SweepLimits(maxTotalTrials: 4, maxConcurrentTrials: 2, timeoutSeconds: 3600, trialTimeoutSeconds: 600))
        #expect(sweep.earlyTermination == EarlyTerminationPolicy(rule: .bandit(slackFactor: 0.1, slackAmount: nil), evaluationInterval: 1, delayEvaluation: 2))
        #expect(trials.allSatisfy { $0.timeoutSeconds == 600 && $0.inputs.first?.source == .localPath(Self.root + "/valid/data/folder") })
        for trial in trials {
            let p = trial.parameters
            #expect(["0.1", "0.2"].contains(p["rate"]) && ["0", "1", "2", "3"].contains(p["width"]), "\(p)")
            #expect(Double(p["decay"]!).map { $0.truncatingRemainder(dividingBy: 2) == 0 && $0 <= 10 } == true, "\(p)")
            #expect(Double(p["batch"]!).map { $0.truncatingRemainder(dividingBy: 8) == 0 } == true, "\(p)")
            #expect(Double(p["lr"]!).map { $0 >= exp(-6) && $0 <= exp(-2) } == true, "\(p)")
            #expect(Double(p["scale"]!).map { $0 > 0 } == true, "\(p)")
        }
        #expect(plan.step("report")?.inputs.first?.source == .stepOutput(step: "sweep_step", output: "model"))
    }

    /// The Python interpreter that has `azure-ai-ml`: `$CONDUIT_AZURE_ML_PYTHON`, else `python3`
    /// when it can import the package; nil when neither can.
    static let azureMLPython: String? = {
        var candidates: [String] = []
        if let configured = ProcessInfo.processInfo.environment["CONDUIT_AZURE_ML_PYTHON"], !configured.isEmpty {
            candidates.append(configured)
        }
        candidates.append("/usr/bin/python3")
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? run(candidate, ["-c", "import azure.ai.ml"]))?.status == 0 { return candidate }
        }
        return nil
    }()

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: azureMLPython != nil, "needs the azure-ai-ml package (.ci/run installs it)"), .timeLimit(.minutes(3)))
    func azureMLLoadsEveryFile() async throws {
        let files = Self.files(in: "valid") + Self.files(in: "unsupported")
        let python = try #require(Self.azureMLPython)
        let result = try await offPool { try Self.run(python, [Self.root + "/azure_load.py"] + files) }
        let lines = result.output.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("error ") }
        #expect(lines.count == files.count, "\(result.output)")
        #expect(result.status == 0, "\(result.output)")
        #expect(lines.allSatisfy { $0.hasPrefix("ok ") }, "\(lines.filter { $0.hasPrefix("error") })")
    }
}
