import Foundation
import Testing
@testable import Spec

/// The hand-written plan JSON must read back, through the plan's `Decodable`, as the same plan.
@Suite struct PlanJSONTests {
    /// A plan that uses every field: optionals set and unset, maps, every segment and source kind.
    static let everything = PipelinePlan(
        name: "p \"quoted\"", sourceFile: "/tmp/p.yml", experimentName: "exp",
        settings: PipelineSettings(defaultCompute: "azureml:cpu", continueOnStepFailure: true, forceRerun: false, defaultDatastore: "results"),
        steps: [
            PlannedStep(
                name: "train", displayName: "Train\tit", commandTemplate: "python train.py ${{inputs.x}}",
                command: CommandTemplate(segments: [.text("python train.py --lr "), .value("0.1"), .inputPath("x"), .outputPath("model")]),
                parameters: ["lr": "0.1", "epochs": "3", "\u{1}odd": "line\nbreak"],
                inputs: [
                    StepDataInput(name: "x", type: .uriFolder, mode: "ro_mount", source: .stepOutput(step: "prep", output: "out")),
                    StepDataInput(name: "y", type: .uriFile, source: .localPath("/data/y.csv")),
                    StepDataInput(name: "z", type: .mltable, source: .uri("https://example.org/z")),
                ],
                outputs: [
                    StepDataOutput(name: "model", type: .mlflowModel, path: "azureml://datastores/x/paths/${{name}}"),
                    StepDataOutput(name: "artifacts", type: .uriFolder, isDefaultArtifacts: true),
                ],
                codeDirectory: "/src", environment: "azureml:env:1", compute: "azureml:gpu", timeoutSeconds: 60,
                isDeterministic: false, environmentVariables: ["B": "2", "A": "1"]
            ),
            PlannedStep(name: "bare", commandTemplate: "true", command: CommandTemplate(segments: [.text("true")])),
        ],
        outputs: [PipelineOutputBinding(name: "model", type: .mlflowModel, step: "train", output: "model")],
        warnings: ["unknown key 'foo'"]
    )

    /// `plan` written by `PlanJSON` and read back.
    static func roundTrip(_ plan: PipelinePlan) throws -> PipelinePlan {
        try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
    }

    @Test func everyFieldReadsBack() throws {
        let text = PlanJSON.encode(Self.everything)
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(text.utf8))
        #expect(decoded == Self.everything)
    }

    @Test func theSamePlanAlwaysHasTheSameBytes() throws {
        var shuffled = Self.everything
        // Same maps built in another insertion order.
        shuffled.steps[0].parameters = Dictionary(uniqueKeysWithValues: Self.everything.steps[0].parameters.reversed())
        #expect(PlanJSON.encode(shuffled) == PlanJSON.encode(Self.everything))
    }

    @Test func aRealPipelineReadsBack() throws {
        let fixture = try Fixture([
            "pipeline.yml": """
                type: pipeline
                inputs:
                  rate: 0.5
                jobs:
                  prep:
                    command: echo ${{inputs.rate}} > ${{outputs.out}}/v
                    inputs: {rate: "${{parent.inputs.rate}}"}
                    outputs: {out: {type: uri_folder}}
                  use:
                    command: cat ${{inputs.data}}/v
                    inputs: {data: "${{parent.jobs.prep.outputs.out}}"}
                """,
        ])
        let plan = try fixture.load()
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
        #expect(decoded == plan)
    }
}
