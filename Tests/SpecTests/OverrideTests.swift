import Testing
@testable import Spec

/// `--set KEY=VALUE`, the `az ml` way: dotted paths into the file.
struct OverrideTests {
    static let pipeline = """
        type: pipeline
        inputs:
          rate: 0.1
          name: first
          data: {type: uri_file, path: ./a.csv}
        jobs:
          a:
            component:
              command: run ${{inputs.rate}} ${{inputs.name}} ${{inputs.data}}
              inputs:
                rate: {type: number, max: 1}
                name: {type: string}
                data: {type: uri_file}
            inputs:
              rate: ${{parent.inputs.rate}}
              name: ${{parent.inputs.name}}
              data: ${{parent.inputs.data}}
        """

    static func fixture() throws -> Fixture {
        try Fixture(["pipeline.yml": pipeline, "a.csv": "x\n", "b.csv": "y\n"])
    }

    @Test func overridesReplacePipelineInputsAsYAMLText() throws {
        let fixture = try Self.fixture()
        let step = try #require(try fixture.load(overrides: ["inputs.rate=1.0e-5", "inputs.name=off"]).steps.first)
        #expect(step.parameters == ["rate": "1e-05", "name": "False"])
        let quoted = try #require(try fixture.load(overrides: ["inputs.name='off'"]).steps.first)
        #expect(quoted.parameters["name"] == "off")
    }

    @Test func dataInputOverridesReplaceThePath() throws {
        let fixture = try Self.fixture()
        for override in ["inputs.data=./b.csv", "inputs.data.path=b.csv"] {
            let step = try #require(try fixture.load(overrides: [override]).steps.first)
            #expect(step.inputs == [StepDataInput(name: "data", type: .uriFile, source: .localPath(fixture.path("b.csv")))])
        }
    }

    @Test func overriddenValuesAreChecked() throws {
        let error = try #require(try Self.fixture().error(overrides: ["inputs.rate=5"]))
        #expect(error.code == .outOfRange)
    }

    @Test(arguments: [
        ("inputs.missing=1", SpecError.Code.invalidOverride, "no input 'missing'"),
        ("inputs.rate", .invalidOverride, "KEY=VALUE"),
        ("inputs.=3", .invalidOverride, "field path"),
        ("inputs.rate.mode=x", .invalidOverride, "not a data input"),
        ("jobs.nope.inputs.rate=1", .invalidOverride, "no step 'nope' (steps: a)"),
        ("jobs.a=1", .invalidOverride, "names a whole step"),
        ("jobs.a.inputs.rate=7", .outOfRange, "7"),
        ("settings.continue_on_step_failure=maybe", .invalidType, "maybe"),
        ("inputs.rate=[1, 2]", .invalidType, "list"),
        ("inputs.rate=a: [b", .syntax, "YAML"),
        ("inputs.name.path=x", .invalidOverride, "not a data input"),
    ])
    func badOverridesAreRefusedPrecisely(_ override: String, _ code: SpecError.Code, _ words: String) throws {
        let error = try #require(try Self.fixture().error(overrides: [override]))
        #expect(error.code == code, "\(error)")
        #expect(error.description.contains(words), "\(error)")
        #expect(error.line == nil)
    }

    @Test func settingsAndStepFieldsCanBeSet() throws {
        let fixture = try Self.fixture()
        let plan = try fixture.load(overrides: [
            "settings.default_compute=azureml:gpu", "settings.continue_on_step_failure=true",
            "jobs.a.inputs.name=second", "jobs.a.limits.timeout=30",
        ])
        let step = try #require(plan.steps.first)
        #expect(step.compute == "azureml:gpu")
        #expect(plan.settings.continueOnStepFailure)
        #expect(step.parameters["name"] == "second")
        #expect(step.timeoutSeconds == 30)
        let mode = try #require(try fixture.load(overrides: ["inputs.data.mode=download"]).steps.first)
        #expect(mode.inputs.first?.mode == "download")
    }

    @Test func aStepsComponentCanBeSwapped() throws {
        let fixture = try Fixture([
            "pipeline.yml": """
                type: pipeline
                settings: {}
                jobs:
                  a:
                    component: ./one.yml
                """,
            "one.yml": "command: echo one\n",
            "two.yml": "command: echo two\n",
        ])
        #expect(try fixture.load().steps.first?.commandTemplate == "echo one")
        #expect(try fixture.load(overrides: ["jobs.a.component=./two.yml"]).steps.first?.commandTemplate == "echo two")
        let missing = try #require(fixture.error(overrides: ["jobs.a.component=./three.yml"]))
        #expect(missing.code == .fileNotFound, "\(missing)")
        #expect(missing.field == "jobs.a.component", "\(missing)")
    }
}
