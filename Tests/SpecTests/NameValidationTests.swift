import Foundation
import Testing
@testable import Spec

/// Step, input and output names become directory names and binding parts: anything that could name a
/// path outside its root is refused when the file is read, naming the file, line, field and the rule.
struct NameValidationTests {
    /// A pipeline whose step, input and output names are spliced in.
    static func pipeline(step: String = "train", input: String = "rate", output: String = "model") -> String {
        """
        type: pipeline
        jobs:
          \(step):
            command: echo ${{inputs.\(input)}} > ${{outputs.\(output)}}/x
            inputs:
              \(input): 1
            outputs:
              \(output): {type: uri_folder}
        """
    }

    @Test func ordinaryNamesLoad() throws {
        let plan = try Fixture.load(Self.pipeline(step: "prep-data_2", input: "_rate2", output: "Model_out"))
        #expect(plan.steps.map(\.name) == ["prep-data_2"])
    }

    @Test(arguments: ["'..'", "'.'", "a/b", "'/etc'", "'a b'", "'x\\ty'", "résumé", "2fast", "a-b", "a.b", "''"])
    func badOutputNamesAreRefused(name: String) throws {
        let error = try #require(try Fixture.error(Self.pipeline(output: name)))
        #expect(error.code == .invalidName)
        #expect(error.line == 8)
        #expect(error.field?.hasPrefix("jobs.train.outputs.") == true)
        #expect(error.message.contains("output name"))
        #expect(error.message.contains("expected ASCII letters, digits and '_'"))
        #expect(error.file.hasSuffix("pipeline.yml"))
    }

    @Test(arguments: ["'..'", "a/b", "'../../x'", "'-x'"])
    func badInputNamesAreRefused(name: String) throws {
        let error = try #require(try Fixture.error(Self.pipeline(input: name)))
        #expect(error.code == .invalidName)
        #expect(error.line == 6)
        #expect(error.message.contains("input name"))
    }

    @Test(arguments: ["'..'", "'.'", "a/b", "'a b'", "'/abs'", "''"])
    func badStepNamesAreRefused(name: String) throws {
        let error = try #require(try Fixture.error(Self.pipeline(step: name)))
        #expect(error.code == .invalidName)
        #expect(error.message.contains("step name"))
        #expect(error.field?.hasPrefix("jobs.") == true)
    }

    @Test func pipelineInputsAndOutputsAreChecked() throws {
        let badOutput = try #require(try Fixture.error("""
            type: pipeline
            outputs:
              ../escape: {type: uri_folder}
            jobs:
              a: {command: echo}
            """))
        #expect(badOutput.code == .invalidName)
        #expect(badOutput.line == 3)
        #expect(badOutput.field == "outputs.../escape")

        let badInput = try #require(try Fixture.error("""
            type: pipeline
            inputs:
              "a/b": 1
            jobs:
              a: {command: echo}
            """))
        #expect(badInput.code == .invalidName)
        #expect(badInput.line == 3)
    }

    @Test func componentDeclarationsAreChecked() throws {
        let fixture = try Fixture([
            "component.yml": """
                type: command
                command: echo
                outputs:
                  ..: {type: uri_folder}
                """,
            "pipeline.yml": """
                type: pipeline
                jobs:
                  a: {component: file:./component.yml}
                """,
        ])
        let error = try #require(fixture.error())
        #expect(error.code == .invalidName)
        #expect(error.file.hasSuffix("component.yml"))
        #expect(error.line == 4)
        #expect(error.description.contains("output name '..' is not valid"))
    }
}
