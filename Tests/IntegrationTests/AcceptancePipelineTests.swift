import Foundation
import TestKit
import Testing

/// The pipelines in `../shared/acceptance`, run as their README says on a coordinator with two
/// single-slot workers. Skipped (not failed) only when that directory is absent from the checkout.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Fixtures.acceptanceDirectory != nil))
struct AcceptancePipelineTests {
    let acceptance = Fixtures.acceptanceDirectory ?? ""

    @Test func helloRendersLiteralsAsAzureDoes() async throws {
        try await withCluster(workers: 2) { cluster in
            let out = try ProcessHarness.temporaryDirectory()
            let result = try await cluster.cli(["submit", acceptance + "/hello/pipeline.yml", "--wait", "--json", "--output-dir", out])
            #expect(result.status == 0, "\(result.stderr)")
            let final = try String(contentsOfFile: out + "/final", encoding: .utf8)
            #expect(final == "GREETING=HELLO FLAG=FALSE TINY=1E-05 BIG=1E+16 COUNT=3 RATIO=0.25 TEXT_EXP=1E-3 SWITCH=FALSE\n")
            let run = try #require(try result.json()["run"] as? String)
            let logs = try await cluster.cli(["logs", run, "shout"])
            #expect(logs.stdout.contains("lines=1"))
        }
    }

    @Test func heartTrainsReusesAndRerunsOnlyWhatChanged() async throws {
        try await withCluster(workers: 2) { cluster in
            let pipeline = acceptance + "/heart/pipeline.yml"
            let out = try ProcessHarness.temporaryDirectory()
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json", "--output-dir", out])
            #expect(first.status == 0, "\(first.stderr)")
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/report/metrics.json"))
            let metrics = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(abs((metrics["accuracy"] as? Double ?? 0) - 0.918) <= 0.01)
            #expect(abs((metrics["auc"] as? Double ?? 0) - 0.958) <= 0.01)
            #expect(metrics["test_rows"] as? Int == 61)

            let again = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(again.status == 0, "\(again.stderr)")
            let againSteps = steps(of: try again.json())
            #expect(!againSteps.isEmpty && againSteps.values.allSatisfy { $0.reused }, "\(againSteps)")

            let changed = try await cluster.cli(["submit", pipeline, "--set", "inputs.learning_rate=0.05", "--wait", "--json"])
            let view = steps(of: try changed.json())
            #expect(view["prep"]?.reused == true)
            #expect(view["train"]?.reused == false)
            #expect(view["evaluate"]?.reused == false)
        }
    }

    @Test func fanoutRunsSideBySideTimesOutAndContinues() async throws {
        try await withCluster(workers: 2) { cluster in
            let out = try ProcessHarness.temporaryDirectory()
            let started = ContinuousClock.now
            let result = try await cluster.cli(["submit", acceptance + "/fanout/pipeline.yml", "--wait", "--json", "--output-dir", out])
            let elapsed = ContinuousClock.now - started
            #expect(result.status == 1)
            let summary = try result.json()
            #expect(summary["status"] as? String == "failed")
            #expect((summary["reason"] as? String ?? "").contains("too_slow"))
            let view = steps(of: summary)
            #expect(view["too_slow"]?.status == "timed_out")
            #expect(view["join"]?.status == "completed")
            for shard in ["shard_a", "shard_b", "shard_c", "shard_d"] { #expect(view[shard]?.status == "completed") }
            #expect(try String(contentsOfFile: out + "/joined", encoding: .utf8) == "a\nb\nc\nd\n")
            // Two workers: the four 2 s shards and the 3 s timeout overlap; serially it would take 11 s.
            #expect(elapsed < .seconds(10), "took \(elapsed)")
        }
    }

    @Test func nestedRunsOnePipelineComponentTwiceSideBySide() async throws {
        try await withCluster(workers: 2) { cluster in
            let out = try ProcessHarness.temporaryDirectory()
            let result = try await cluster.cli(["submit", acceptance + "/nested/pipeline.yml", "--wait", "--json", "--output-dir", out])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = try result.json()
            let view = steps(of: summary)
            #expect(Set(view.keys) == ["prep", "fast/train", "fast/evaluate", "slow/train", "slow/evaluate", "pick"])
            #expect(view.values.allSatisfy { $0.status == "completed" }, "\(view)")
            let run = try #require(summary["run"] as? String)
            #expect(try await cluster.cli(["logs", run, "pick"]).stdout.contains("picked fast"))
            let model = try String(contentsOfFile: out + "/best/model.json", encoding: .utf8)
            #expect(model.contains("\"learning_rate\": 0.1"), "\(model)")
            // Both trainings became ready together; with two free single-slot workers they ran on both.
            let workers = Dictionary(uniqueKeysWithValues: (summary["steps"] as? [[String: Any]] ?? []).compactMap { step in
                (step["name"] as? String).map { ($0, step["worker"] as? String ?? "") }
            })
            #expect(workers["fast/train"] != workers["slow/train"], "\(workers)")
        }
    }

    /// Each acceptance pipeline from `conduit run`: the embedded coordinator and worker.
    @Test func everyPipelineRunsEmbedded() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        func run(_ name: String, _ extra: [String] = []) async throws -> (CLIResult, String) {
            let out = try ProcessHarness.temporaryDirectory()
            let result = try await runEmbedded(["run", acceptance + "/\(name)/pipeline.yml", "--json", "--output-dir", out] + extra, home: home)
            return (result, out)
        }
        let (hello, helloOut) = try await run("hello")
        #expect(hello.status == 0, "\(hello.stderr)")
        #expect(try String(contentsOfFile: helloOut + "/final", encoding: .utf8).hasPrefix("GREETING=HELLO FLAG=FALSE TINY=1E-05"))

        let (heart, heartOut) = try await run("heart")
        #expect(heart.status == 0, "\(heart.stderr)")
        let metrics = try String(contentsOfFile: heartOut + "/report/metrics.json", encoding: .utf8)
        #expect(metrics.contains("\"test_rows\": 61"), "\(metrics)")

        let (nested, nestedOut) = try await run("nested")
        #expect(nested.status == 0, "\(nested.stderr)")
        #expect(steps(of: try nested.json()).count == 6)
        #expect(try String(contentsOfFile: nestedOut + "/best/model.json", encoding: .utf8).contains("\"learning_rate\": 0.1"))

        let (fanout, fanoutOut) = try await run("fanout", ["--slots", "2"])
        #expect(fanout.status == 1)
        let view = steps(of: try fanout.json())
        #expect(view["too_slow"]?.status == "timed_out")
        #expect(try String(contentsOfFile: fanoutOut + "/joined", encoding: .utf8) == "a\nb\nc\nd\n")
    }
}
