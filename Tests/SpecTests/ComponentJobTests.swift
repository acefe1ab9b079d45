import Testing
@testable import Spec

/// A pipeline job made of a pipeline component (top-level `component:`).
struct ComponentJobTests {
    static let component = """
        type: pipeline
        display_name: two-stage
        inputs:
          rate: {type: number, default: 0.5}
          raw: {type: uri_file}
          compute_name: {type: string, default: cpu}
        outputs:
          model: {type: uri_folder}
        jobs:
          prep:
            command: cp ${{inputs.raw}} ${{outputs.clean}}/data.csv
            inputs:
              raw: ${{parent.inputs.raw}}
            outputs:
              clean:
          train:
            command: train --rate ${{inputs.rate}} --data ${{inputs.data}} --out ${{outputs.model}}
            compute: ${{parent.inputs.compute_name}}
            inputs:
              rate: ${{parent.inputs.rate}}
              data: ${{parent.jobs.prep.outputs.clean}}
            outputs:
              model: ${{parent.outputs.model}}
        """

    static func fixture(job: String) throws -> Fixture {
        try Fixture(["components/stages.yml": component, "data/raw.csv": "a\n", "pipeline.yml": job])
    }

    @Test func theComponentsStepsRunAsTheJobsOwnWithItsInputsAndOutputs() throws {
        let fixture = try Self.fixture(job: """
            type: pipeline
            component: ./components/stages.yml
            inputs:
              raw: {type: uri_file, path: ./data/raw.csv}
              rate: 0.1
            outputs:
              model:
                mode: upload
                path: azureml://datastores/models/paths/${{name}}/model
            """)
        let plan = try fixture.load()
        #expect(plan.steps.map(\.name) == ["prep", "train"])
        #expect(plan.name == "two-stage")
        let train = try #require(plan.step("train"))
        #expect(train.parameters["rate"] == "0.1")
        #expect(train.compute == "cpu")
        #expect(train.upstreamSteps == ["prep"])
        #expect(plan.step("prep")?.inputs.first?.source == .localPath(fixture.path("data/raw.csv")))
        #expect(plan.outputs == [PipelineOutputBinding(name: "model", type: .uriFolder, step: "train", output: "model")])
        #expect(train.outputs.first?.path == "azureml://datastores/models/paths/${{name}}/model")
    }

    @Test func componentDefaultsFillInputsTheJobLeavesOutAndOverridesReachThem() throws {
        let fixture = try Self.fixture(job: """
            type: pipeline
            component: file:./components/stages.yml
            inputs:
              raw: ./data/raw.csv
            """)
        #expect(try fixture.load().step("train")?.parameters["rate"] == "0.5")
        #expect(try fixture.load(overrides: ["inputs.rate=0.25"]).step("train")?.parameters["rate"] == "0.25")
    }

    @Test(arguments: [
        ("component: ./components/stages.yml\ninputs: {rate: 0.1}", SpecError.Code.missingInput, "required input 'raw'"),
        ("component: ./components/stages.yml\ninputs: {raw: ./data/raw.csv, rate: 9x}", .invalidType, "rate"),
        ("component: ./components/stages.yml\ninputs: {raw: ./data/raw.csv}\noutputs: {other: }", .undeclaredReference, "no output 'other'"),
        ("component: ./components/stages.yml\njobs: {a: {command: echo}}", .unknownField, "mutually exclusive"),
        ("component: ./components/missing.yml", .fileNotFound, "missing.yml"),
    ])
    func mistakesAreNamed(_ body: String, _ code: SpecError.Code, _ words: String) throws {
        let fixture = try Self.fixture(job: "type: pipeline\n" + body + "\n")
        let error = try #require(fixture.error())
        #expect(error.code == code, "\(error)")
        #expect(error.description.contains(words), "\(error)")
    }

    @Test func aCommandComponentIsNotAPipelineComponent() throws {
        let fixture = try Fixture([
            "one.yml": "command: echo one\n",
            "pipeline.yml": "type: pipeline\ncomponent: ./one.yml\n",
        ])
        let error = try #require(fixture.error())
        #expect(error.description.contains("needs a pipeline component"), "\(error)")
    }
}

/// `azureml://datastores/NAME/paths/PATH` in output paths.
struct DatastorePathTests {
    @Test func pathsAreParsedAndFilledIn() throws {
        let path = try DatastorePath(parsing: "azureml://datastores/${{default_datastore}}/paths/${{ name }}/${{output_name}}.csv")
        #expect(path.hasExpressions)
        let resolved = try path.resolved(jobName: "run-1-train", outputName: "scores", defaultDatastore: "workspaceblobstore")
        #expect(resolved.datastore == "workspaceblobstore")
        #expect(resolved.path == "run-1-train/scores.csv")
        let plain = try DatastorePath(parsing: "azureml://datastores/shared/paths/data/heart/")
        #expect(!plain.hasExpressions)
        #expect(try plain.resolved(jobName: "x", outputName: "y", defaultDatastore: "z") == ("shared", "data/heart"))
    }

    @Test(arguments: [
        "azureml://datastores/shared",
        "azureml://datastores//paths/x",
        "azureml://datastores/shared/paths/",
        "azureml://datastores/shared/paths/${{inputs.x}}/y",
        "azureml://datastores/shared/paths/${{name",
        "https://example.com/x",
    ])
    func malformedPathsAreRefused(_ text: String) {
        #expect(throws: DatastorePath.Failure.self) { try DatastorePath(parsing: text) }
    }

    @Test func aFilledInPathCannotClimbOut() throws {
        let path = try DatastorePath(parsing: "azureml://datastores/shared/paths/${{name}}/x")
        #expect(throws: DatastorePath.Failure.self) {
            try path.resolved(jobName: "..", outputName: "o", defaultDatastore: "d")
        }
    }

    @Test func outputPathsReachTheStepsThatFillThem() throws {
        let fixture = try Fixture(["pipeline.yml": """
            type: pipeline
            settings: {default_datastore: azureml:results}
            outputs:
              final:
                type: uri_file
                path: azureml://datastores/${{default_datastore}}/paths/${{name}}/final.txt
                name: final_asset
                version: 2
            jobs:
              a:
                command: echo hi > ${{outputs.out}}; echo x > ${{outputs.other}}/x
                outputs:
                  out: ${{parent.outputs.final}}
                  other: {type: uri_folder, path: azureml://datastores/scratch/paths/other}
                  plain: {type: uri_folder, path: ./somewhere}
            """])
        let plan = try fixture.load()
        #expect(plan.settings.defaultDatastore == "results")
        let outputs = try #require(plan.step("a")?.outputs)
        #expect(outputs.first { $0.name == "out" }?.path == "azureml://datastores/${{default_datastore}}/paths/${{name}}/final.txt")
        #expect(outputs.first { $0.name == "other" }?.path == "azureml://datastores/scratch/paths/other")
        #expect(outputs.first { $0.name == "plain" }?.path == nil)
        #expect(plan.warnings.contains { $0.contains("./somewhere") })
        #expect(outputs.first { $0.name == "out" }?.asset == OutputAssetName(name: "final_asset", version: "2"))
        let decoded = try PlanJSONTests.roundTrip(plan)
        #expect(decoded == plan)
    }

    @Test func anUnknownExpressionInAnOutputPathIsAnError() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo hi > ${{outputs.out}}
                outputs:
                  out:
                    type: uri_file
                    path: azureml://datastores/x/paths/${{parent.inputs.y}}
            """))
        #expect(error.code == .invalidBinding, "\(error)")
        #expect(error.field == "jobs.a.outputs.out.path", "\(error)")
    }
}
