import Foundation
import Testing
@testable import Spec

/// The output named `artifacts`: the step's `./outputs` and `./logs`, unless its command writes
/// `${{outputs.artifacts}}` itself.
struct DefaultArtifactsTests {
    @Test func bindingUndeclaredArtifactsCollectsThem() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: echo "world" > ./outputs/world.txt
              b:
                command: cat ${{inputs.world}}/outputs/world.txt
                inputs:
                  world: ${{parent.jobs.a.outputs.artifacts}}
            """)
        #expect(plan.step("a")?.outputs == [StepDataOutput(name: "artifacts", type: .uriFolder, isDefaultArtifacts: true)])
        #expect(plan.step("b")?.inputs == [
            StepDataInput(name: "world", type: .uriFolder, source: .stepOutput(step: "a", output: "artifacts")),
        ])
    }

    @Test func aStepWhoseArtifactsNothingBindsCollectsNone() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: mkdir -p outputs && echo hi > outputs/x.txt
            """)
        #expect(plan.steps[0].outputs.isEmpty)
    }

    @Test func aComponentThatWritesItsOwnArtifactsOutputKeepsIt() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                component:
                  command: echo hi > ${{outputs.artifacts}}/x.txt
                  outputs: {artifacts: {type: uri_folder}}
              b:
                command: cat ${{inputs.x}}/x.txt
                inputs: {x: '${{parent.jobs.a.outputs.artifacts}}'}
            """)
        #expect(plan.step("a")?.outputs == [StepDataOutput(name: "artifacts", type: .uriFolder)])
    }

    @Test func aComponentThatDeclaresArtifactsWithoutWritingThemGetsTheDefaultOnes() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                component:
                  command: mkdir -p outputs && echo hi > outputs/x.txt
                  outputs: {artifacts: {type: uri_folder}}
            """)
        #expect(plan.step("a")?.outputs == [StepDataOutput(name: "artifacts", type: .uriFolder, isDefaultArtifacts: true)])
    }

    @Test func defaultArtifactsAsAFileAreRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo hi
                outputs:
                  artifacts: {type: uri_file}
            """))
        #expect(error.code == .invalidType)
        #expect(error.message.contains("./outputs and ./logs"), "\(error.message)")
    }

    @Test func theDefaultArtifactsChangeNoOtherJSONOfThePlan() throws {
        let output = StepDataOutput(name: "model", type: .uriFolder)
        let json = String(decoding: try JSONEncoder().encode(output), as: UTF8.self)
        #expect(!json.contains("isDefaultArtifacts"), "\(json)")
        let old = #"{"name":"model","type":"uri_folder"}"#
        #expect(try JSONDecoder().decode(StepDataOutput.self, from: Data(old.utf8)) == output)
        let artifacts = StepDataOutput(name: "artifacts", type: .uriFolder, isDefaultArtifacts: true)
        #expect(try JSONDecoder().decode(StepDataOutput.self, from: JSONEncoder().encode(artifacts)) == artifacts)
    }
}
