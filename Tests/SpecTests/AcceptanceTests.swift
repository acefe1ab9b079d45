import Foundation
import Testing
@testable import Spec

/// The shared acceptance pipelines, read where CI keeps them: `/work/shared/acceptance` beside the repository.
enum Acceptance {
    static let directory: String = {
        let repository = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repository.deletingLastPathComponent().appendingPathComponent("shared/acceptance").path
    }()

    static var isAvailable: Bool { FileManager.default.fileExists(atPath: directory + "/hello/pipeline.yml") }

    static func path(_ relative: String) -> String { directory + "/" + relative }

    /// The `# expect: WORD` line of an invalid file.
    static func expectedWord(_ file: String) -> String? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("# expect:") else { return nil }
        return line.dropFirst("# expect:".count).trimmingCharacters(in: .whitespaces)
    }

    static var invalidFiles: [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path("invalid")) else { return [] }
        return names.filter { $0.hasSuffix(".yml") }.sorted()
    }
}

@Suite(.enabled(if: Acceptance.isAvailable, "needs /work/shared/acceptance beside the repository"))
struct AcceptanceTests {
    @Test func helloRendersLiteralsAsAzureDoes() throws {
        let plan = try PipelineLoader.load(file: Acceptance.path("hello/pipeline.yml"))
        #expect(plan.name == "hello-rendering")
        #expect(plan.steps.map(\.name) == ["render", "shout"])
        let render = plan.steps[0]
        let rendered = try render.command.render(inputPaths: [:], outputPaths: ["rendered": "/out"])
        #expect(rendered.command.contains(
            "greeting=hello flag=False tiny=1e-05 big=1e+16 count=3 ratio=0.25 text_exp=1e-3 switch=False"
        ))
        #expect(render.parameters["tiny"] == "1e-05")
        #expect(render.parameters["switch"] == "False")
        #expect(render.outputs == [StepDataOutput(name: "rendered", type: .uriFolder)])
        #expect(render.environment == #"{"image":"library/python:latest"}"#)
        let shout = plan.steps[1]
        #expect(shout.upstreamSteps == ["render"])
        #expect(shout.inputs == [StepDataInput(name: "source", type: .uriFolder, source: .stepOutput(step: "render", output: "rendered"))])
        #expect(shout.outputs == [StepDataOutput(name: "loud", type: .uriFile)])
        #expect(plan.outputs == [PipelineOutputBinding(name: "final", type: .uriFile, step: "shout", output: "loud")])
    }

    @Test func heartLoadsComponentsDefaultsAndOptionalSegments() throws {
        let plan = try PipelineLoader.load(file: Acceptance.path("heart/pipeline.yml"))
        #expect(plan.steps.map(\.name) == ["prep", "train", "evaluate"])
        #expect(plan.experimentName == "heart")
        #expect(plan.settings.defaultCompute == "azureml:cpu-highmem")
        let prep = plan.steps[0], train = plan.steps[1], evaluate = plan.steps[2]
        #expect(prep.parameters == ["test_fraction": "0.2", "seed": "7"])
        #expect(prep.inputs == [StepDataInput(
            name: "raw_data", type: .uriFile, source: .localPath(Acceptance.path("data/heart.csv"))
        )])
        #expect(prep.compute == "azureml:cpu-highmem")
        #expect(train.compute == "azureml:gpu")
        #expect(prep.codeDirectory == Acceptance.path("heart/src"))
        #expect(train.parameters == ["learning_rate": "0.1", "epochs": "300"])
        let command = try train.command.render(inputPaths: ["train_data": "/in"], outputPaths: ["model_output": "/out"]).command
        #expect(command == "python train.py --train_data /in --learning_rate 0.1 --epochs 300  --model_output /out")
        #expect(!command.contains("l2"))
        #expect(evaluate.upstreamSteps == ["train", "prep"])
        #expect(plan.outputs.map(\.name) == ["model", "report"])
        #expect(plan.outputs[0] == PipelineOutputBinding(name: "model", type: .uriFolder, step: "train", output: "model_output"))
        #expect(prep.displayName == "Prepare heart-disease data")
        #expect(prep.environment == #"{"image":"python:3.11"}"#)
    }

    @Test func fanoutHasIndependentShardsTimeoutAndContinueOnFailure() throws {
        let plan = try PipelineLoader.load(file: Acceptance.path("fanout/pipeline.yml"))
        #expect(plan.steps.map(\.name) == ["shard_a", "shard_b", "shard_c", "shard_d", "too_slow", "join"])
        #expect(plan.settings.continueOnStepFailure)
        #expect(plan.steps[4].timeoutSeconds == 3)
        #expect(plan.steps[5].upstreamSteps == ["shard_a", "shard_b", "shard_c", "shard_d"])
        #expect(plan.steps[0].upstreamSteps.isEmpty)
        #expect(plan.outputs == [PipelineOutputBinding(name: "joined", type: .uriFile, step: "join", output: "joined")])
    }

    @Test func nestedPipelineComponentsExpandIntoLeafSteps() throws {
        let plan = try PipelineLoader.load(file: Acceptance.path("nested/pipeline.yml"))
        #expect(plan.steps.map(\.name) == ["prep", "fast/train", "fast/evaluate", "slow/train", "slow/evaluate", "pick"])
        let fastTrain = plan.steps[1], slowTrain = plan.steps[3]
        #expect(fastTrain.compute == "azureml:gpu")
        #expect(fastTrain.parameters["l2"] == nil)
        #expect(slowTrain.parameters["l2"] == "0.001")
        #expect(plan.steps[5].upstreamSteps == ["fast/evaluate", "slow/evaluate", "fast/train", "slow/train"])
        #expect(plan.outputs == [PipelineOutputBinding(name: "best", type: .uriFolder, step: "pick", output: "best")])
    }

    @Test(arguments: Acceptance.invalidFiles)
    func invalidFileIsRefusedNamingFileAndWord(_ name: String) throws {
        let file = Acceptance.path("invalid/\(name)")
        let word = try #require(Acceptance.expectedWord(file))
        let start = ContinuousClock.now
        let error = #expect(throws: SpecError.self) { try PipelineLoader.load(file: file) }
        #expect(ContinuousClock.now - start < .seconds(1))
        let text = error?.description ?? ""
        #expect(text.lowercased().contains(word.lowercased()), "\(text)")
        #expect(text.contains(name), "\(text)")
    }
}
