import Foundation
import TestKit
import Testing

/// `conduit run`: through the local service (a coordinator and worker for this machine), on the project's example.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct EmbeddedRunTests {
    func run(_ arguments: [String], home: String, environment extra: [String: String] = [:]) async throws -> CLIResult {
        try await runEmbedded(arguments, home: home, environment: extra)
    }

    /// The embedded worker is the only one: a step it can never run stops the run at once, named,
    /// instead of waiting forever; with simulated GPUs the same step runs and sees its device.
    @Test func aStepThisMachineCannotRunIsNamedAndOneItCanSeesItsGPU() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = home + "/gpu.yml"
        try """
            type: pipeline
            jobs:
              train:
                command: echo "devices=[$CUDA_VISIBLE_DEVICES]"
                resources: {gpu: 1}
            """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let refused = try await run(["run", pipeline], home: home, environment: ["CONDUIT_SIMULATED_GPUS": "0"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("step train can never run on this machine (waiting: needs gpu≥1; no such worker connected)"), "\(refused.stderr)")
        // The local service's worker has the GPUs of the environment it started in: start it again.
        let stopped = try await run(["service", "stop"], home: home)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let simulated = try await run(["run", pipeline, "--json"], home: home, environment: ["CONDUIT_SIMULATED_GPUS": "1"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        #expect(simulated.stderr.contains("on local (GPU 0, simulated)"), "\(simulated.stderr)")
    }

    @Test func theExamplePipelineRunsThenReusesThenRerunsOnlyWhatChanged() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = ProcessHarness.packageRoot() + "/examples/house-prices/pipeline.yml"

        let first = try await run(["run", pipeline, "--json", "--output-dir", home + "/out"], home: home)
        #expect(first.status == 0, "\(first.stderr)")
        let summary = try first.json()
        #expect(summary["status"] as? String == "completed")
        #expect(Set(steps(of: summary).keys) == ["prep", "profile", "train", "evaluate"])
        #expect(first.stderr.contains("train") && first.stderr.contains("completed"), "live progress goes to stderr")
        let metricsData = try Data(contentsOf: URL(fileURLWithPath: home + "/out/metrics/metrics.json"))
        let metrics = try #require(try JSONSerialization.jsonObject(with: metricsData) as? [String: Any])
        #expect((metrics["r2"] as? Double ?? 0) > 0.8, "\(metrics)")
        #expect(FileManager.default.fileExists(atPath: home + "/out/model/model.json"))
        #expect(FileManager.default.isWritableFile(atPath: home + "/out/model/model.json"), "outputs handed to the user are writable copies")
        #expect(FileManager.default.fileExists(atPath: home + "/conduit.sqlite"), "the default data directory is $CONDUIT_HOME")

        let second = try await run(["run", pipeline, "--json"], home: home)
        #expect(second.status == 0)
        let secondSteps = steps(of: try second.json())
        #expect(secondSteps.count == 4 && secondSteps.values.allSatisfy { $0.reused }, "\(secondSteps)")

        let third = try await run(["run", pipeline, "--json", "--set", "inputs.alpha=10"], home: home)
        let changed = steps(of: try third.json())
        #expect(changed["prep"]?.reused == true && changed["profile"]?.reused == true)
        #expect(changed["train"]?.reused == false && changed["evaluate"]?.reused == false)

        let human = try await run(["run", pipeline], home: home)
        #expect(human.status == 0)
        #expect(human.stdout.contains("completed") && human.stdout.contains("4 reused"), "\(human.stdout)")
    }

    @Test func aFailingEmbeddedRunExitsNonZeroAndBadInputIsRefusedWithoutStartingAnything() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let failing = try Fixtures.pipeline("""
            type: pipeline
            jobs:
              boom:
                command: echo "it broke" >&2; exit 4
            """, in: home)
        let result = try await run(["run", failing, "--json"], home: home)
        #expect(result.status == 1)
        #expect(try result.json()["status"] as? String == "failed")

        let invalid = try Fixtures.pipeline("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.nothing}}
            """, named: "bad.yml", in: home)
        let refused = try await run(["run", invalid], home: home)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("bad.yml") && refused.stderr.contains("nothing"), "\(refused.stderr)")
    }

    @Test func logsFollowStreamsUntilTheStepEnds() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  talk:
                    command: for i in 1 2 3; do echo "tick $i"; sleep 0.5; done
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline])
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let followed = try await cluster.cli(["logs", run, "talk", "--follow"], timeout: .seconds(60))
            #expect(followed.status == 0, "\(followed.stderr)")
            #expect(followed.stdout == "tick 1\ntick 2\ntick 3\n", "\(followed.stdout)")
        }
    }
}
