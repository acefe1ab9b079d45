import Foundation
import TestKit
import Testing

/// The working directory conventions and literal text, on a coordinator with real workers: a
/// step's `./outputs` and `./logs` are its default artifacts (`${{parent.jobs.a.outputs.artifacts}}`),
/// a step's `./outputs` never reaches a declared output, and `$[[inputs.NAME]]` reaches the program
/// as written.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct WorkingDirectoryRunTests {
    static let pipeline = """
        type: pipeline
        outputs:
          copy: {type: uri_folder}
          declared: {type: uri_folder}
          said: {type: uri_folder}
        jobs:
          a:
            command: echo "world" > ./outputs/world.txt && echo note > ./logs/a.log
          b:
            command: cp ${{inputs.previous}}/outputs/world.txt ${{inputs.previous}}/logs/a.log ${{outputs.copy}}/
            inputs:
              previous: ${{parent.jobs.a.outputs.artifacts}}
            outputs:
              copy: ${{parent.outputs.copy}}
          clash:
            component:
              command: echo declared > ${{outputs.x}}/declared.txt && mkdir -p outputs/x && echo stray > outputs/x/stray.txt
              outputs:
                x: {type: uri_folder}
            outputs:
              x: ${{parent.outputs.declared}}
          say:
            component:
              command: echo $[[inputs.word]] "$[[inputs.word]]" | tee ${{outputs.said}}/said.txt
              inputs:
                word: {type: string, default: hi}
              outputs:
                said: {type: uri_folder}
            outputs:
              said: ${{parent.outputs.said}}
        """

    @Test func artifactsBindTheStepsOwnOutputsAndLogsAndLiteralTextIsKept() async throws {
        try await withCluster(workers: 2) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: work) }
            let pipeline = try Fixtures.pipeline(Self.pipeline, in: work)
            let out = work + "/out"
            let result = try await cluster.cli(["submit", pipeline, "--wait", "--json", "--output-dir", out])
            #expect(result.status == 0, "\(result.stderr)")
            let files = { (path: String) in try? String(contentsOfFile: out + "/" + path, encoding: .utf8) }
            #expect(files("copy/world.txt") == "world\n", "b read what a wrote to ./outputs/world.txt")
            #expect(files("copy/a.log") == "note\n", "and to ./logs/a.log")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/declared") == ["declared.txt"], "./outputs/x is not output x")
            #expect(files("declared/declared.txt") == "declared\n")
            #expect(files("said/said.txt") == "$[[inputs.word]] $[[inputs.word]]\n")
            let run = try #require(try result.json()["run"] as? String)
            let logs = try await cluster.cli(["logs", run, "say"])
            #expect(logs.stdout.contains("$[[inputs.word]] $[[inputs.word]]"), "\(logs.stdout)\(logs.stderr)")

            // The local replay follows the same layout and collects the same artifacts.
            let replay = try await cluster.cli(["step", "run", run, "a", "--local", "--dir", work + "/replay-a"])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.contains("output artifacts: \(work)/replay-a/default-artifacts  matches run \(run)"), "\(replay.stdout)")
            let clash = try await cluster.cli(["step", "run", run, "clash", "--local", "--dir", work + "/replay-clash"])
            #expect(clash.status == 0, "\(clash.stderr)")
            #expect(clash.stdout.contains("output x: \(work)/replay-clash/outputs/x  matches run \(run)"), "\(clash.stdout)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/replay-clash/outputs/x") == ["declared.txt"])
        }
    }
}
