import Foundation
import Testing
@testable import Spec

/// `${{ }}` references and `$[[ ]]` optional segments in commands.
struct CommandTemplateTests {
    private static let component = """
        type: pipeline
        jobs:
          a:
            component:
              command: >-
                run ${{ inputs.required }}
                $[[--opt ${{inputs.opt}}]]
                $[[--with_default ${{inputs.with_default}}]]
                $[[--both ${{inputs.opt}} ${{inputs.required}}]]
                $[[--data ${{inputs.maybe_data}}]]
                $[[inputs.legacy_literal]]
                --out ${{outputs.result}}
              environment: {image: python}
              inputs:
                required: {type: integer}
                opt: {type: string, optional: true}
                with_default: {type: number, optional: true, default: 0.5}
                maybe_data: {type: uri_folder, optional: true}
              outputs:
                result: {type: uri_folder}
            inputs:
              required: 3
        """

    @Test func unsetOptionalSegmentsVanishAndDefaultsKeepTheirs() throws {
        let step = try #require(try Fixture.load(Self.component).steps.first)
        #expect(step.preview == "run 3  --with_default 0.5   $[[inputs.legacy_literal]] --out <out:result>")
        #expect(step.parameters == ["required": "3", "with_default": "0.5"])
        #expect(step.inputs.isEmpty)
    }

    @Test func setOptionalSegmentsAreKeptWithoutBrackets() throws {
        let fixture = try Fixture(["pipeline.yml": Self.component + "\n      opt: fast\n      maybe_data: {path: ./d}\n"])
        try fixture.makeDirectory("d")
        let step = try #require(try fixture.load().steps.first)
        #expect(step.preview == "run 3 --opt fast --with_default 0.5 --both fast 3 --data <in:maybe_data> $[[inputs.legacy_literal]] --out <out:result>")
        #expect(step.inputs == [StepDataInput(name: "maybe_data", type: .uriFolder, source: .localPath(fixture.path("d")))])
    }

    @Test func adjacentTextIsMergedAndValuesAreSeparateSegments() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: echo $[[x]] ${{inputs.n}}!
                inputs: {n: 0x10}
            """)
        // A `$[[ ]]` without references is literal text, passed as a value so that bash quotes it.
        #expect(plan.steps[0].command.segments == [.text("echo "), .value("$[[x]]"), .text(" "), .value("16"), .text("!")])
        #expect(plan.steps[0].commandTemplate == "echo $[[x]] ${{inputs.n}}!")
    }

    @Test func optionalInputOutsideBracketsIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                component:
                  command: run ${{inputs.lr}}
                  inputs: {lr: {type: number, optional: true, default: 0.1}}
            """))
        #expect(error.code == .optionalOutsideBrackets)
        #expect(error.field == "jobs.a.component.command")
        #expect(error.line == 5)
    }

    @Test func undeclaredOutputIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo > ${{outputs.nowhere}}
                outputs: {somewhere: }
            """))
        #expect(error.code == .undeclaredReference)
        #expect(error.message.contains("nowhere"))
        #expect(error.message.contains("somewhere"))
    }

    @Test func otherExpressionsInCommandsAreRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo ${{search_space.lr}}
            """))
        #expect(error.code == .invalidBinding)
    }

    @Test func inlineInputBoundToAnUnsetParentInputCannotBeUsedOutsideBrackets() throws {
        let text = """
            type: pipeline
            inputs: {maybe: }
            jobs:
              a:
                command: echo $[[--m ${{inputs.m}}]] done
                inputs: {m: "${{parent.inputs.maybe}}"}
            """
        #expect(try Fixture.load(text).steps[0].preview == "echo  done")
        let error = try #require(try Fixture.error(text.replacingOccurrences(of: "$[[--m ${{inputs.m}}]]", with: "${{inputs.m}}")))
        #expect(error.code == .missingInput)
    }

    @Test func shellMetacharactersInValuesAreQuoted() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.msg}}
                inputs: {msg: "$(rm -rf /)"}
            """)
        let rendered = try plan.steps[0].command.render(inputPaths: [:], outputPaths: [:])
        #expect(rendered.command == "echo '$(rm' -rf '/)'")
        #expect(rendered.environment.isEmpty)
    }
}

@Suite struct PlanCodingTests {
    @Test func plansSurviveJSONInTheirCompactForm() throws {
        let step = PlannedStep(
            name: "fast/train", commandTemplate: "python t.py ${{inputs.x}}",
            command: CommandTemplate(segments: [.text("python t.py "), .value("0.1"), .inputPath("x"), .outputPath("m")]),
            parameters: ["lr": "0.1"],
            inputs: [
                StepDataInput(name: "x", type: .uriFolder, source: .stepOutput(step: "prep", output: "train")),
                StepDataInput(name: "raw", type: .uriFile, mode: "download", source: .localPath("/data/heart.csv")),
                StepDataInput(name: "web", type: .uriFile, source: .uri("https://example.org/x.csv")),
            ],
            outputs: [StepDataOutput(name: "m", type: .uriFolder)]
        )
        let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [step], outputs: [])
        let data = try JSONEncoder().encode(plan)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#"["value","0.1"]"#))
        #expect(text.contains(#"["step","prep","train"]"#))
        #expect(try JSONDecoder().decode(PipelinePlan.self, from: data) == plan)
    }

    @Test func unknownSegmentKindsAreRejected() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CommandTemplate.Segment.self, from: Data(#"["shell","rm -rf /"]"#.utf8))
        }
    }
}
