import Testing
@testable import Spec

/// `--set inputs.NAME=VALUE`.
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
        ("settings.default_compute=x", .notSupported, "only inputs"),
        ("inputs.rate.mode=x", .notSupported, "inputs.NAME.path"),
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
}
