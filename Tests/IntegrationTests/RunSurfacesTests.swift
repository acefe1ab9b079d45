import Foundation
import TestKit
import Testing

/// Where users look after a run: `status` (times, metrics, every attempt), `logs --attempt N` and
/// `download RUN STEP.OUTPUT DIR`, through the real CLI against a real coordinator and worker.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RunSurfacesTests {
    /// A step that fails once and succeeds on its retry, logging metrics on the way.
    static func flakyPipeline(in work: String) throws -> String {
        try Fixtures.pipeline("""
            type: pipeline
            jobs:
              flaky:
                command: >-
                  if [ ! -e \(work)/tried ]; then touch \(work)/tried; echo "first try"; exit 3; fi;
                  echo "second try";
                  echo '{"name": "loss", "value": 0.25}' >> "$CONDUIT_METRICS_FILE";
                  echo '{"name": "accuracy", "value": 0.875}' >> "$CONDUIT_METRICS_FILE";
                  echo done > ${{outputs.result}}/done.txt
                retry: {attempts: 3, backoff: 0}
                outputs: {result: }
            """, in: work)
    }

    @Test func statusShowsTimesMetricsAndEveryAttemptAndLogsKeepEach() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Self.flakyPipeline(in: work)
            let submitted = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = try #require(try submitted.json()["run"] as? String)
            // `submit --wait --json` ends with the run's detail; `runs --json` lists runs without it.
            let summary = try #require((try submitted.json()["steps"] as? [[String: Any]])?.first)
            #expect((summary["attemptHistory"] as? [Any])?.count == 2 && summary["metrics"] as? [String: Double] != nil, "\(summary)")
            let listed = try await cluster.cli(["runs", "--json"])
            let listedStep = try #require(((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.first?["steps"] as? [[String: Any]])?.first)
            #expect(listedStep["attempts"] as? Int == 2 && listedStep["attemptHistory"] == nil && listedStep["metrics"] == nil, "\(listedStep)")

            let status = try await cluster.cli(["status", run, "--json"])
            #expect(status.status == 0, "\(status.stderr)")
            let step = try #require((try status.json()["steps"] as? [[String: Any]])?.first { $0["name"] as? String == "flaky" })
            #expect(step["attempts"] as? Int == 2)
            #expect(step["metrics"] as? [String: Double] == ["loss": 0.25, "accuracy": 0.875], "\(step)")
            let started = try #require(step["startedAt"] as? Int64)
            let finished = try #require(step["finishedAt"] as? Int64)
            #expect(started <= finished)
            #expect(step["durationSeconds"] as? Double == Double(finished - started) / 1000)
            #expect((step["outputs"] as? [String: String])?.keys.sorted() == ["result"], "\(step)")
            let history = try #require(step["attemptHistory"] as? [[String: Any]], "\(step)")
            #expect(history.map { $0["number"] as? Int } == [1, 2])
            #expect(history.map { $0["status"] as? String } == ["failed", "succeeded"])
            #expect(history.allSatisfy { $0["worker"] as? String == "worker1" }, "\(history)")
            #expect(history[0]["exitCode"] as? Int == 3)
            #expect((history[0]["message"] as? String ?? "").contains("exit code 3"), "\(history[0])")
            for attempt in history {
                let start = try #require(attempt["startedAt"] as? Int64, "\(attempt)")
                let end = try #require(attempt["finishedAt"] as? Int64, "\(attempt)")
                #expect(started <= start && start <= end && end <= finished, "\(attempt)")
            }
            #expect(try #require(history[0]["finishedAt"] as? Int64) <= (history[1]["startedAt"] as? Int64 ?? 0))

            let text = try await cluster.cli(["status", run])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("metrics: accuracy 0.875, loss 0.25"), "\(text.stdout)")
            #expect(text.stdout.contains("attempt 1  failed  on worker1  started "), "\(text.stdout)")
            #expect(text.stdout.contains("attempt 2  succeeded  on worker1  started "), "\(text.stdout)")
            #expect(text.stdout.contains("exit code 3"), "\(text.stdout)")

            // Each attempt's log is kept; without --attempt, the latest.
            let first = try await cluster.cli(["logs", run, "flaky", "--attempt", "1"])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("first try") && !first.stdout.contains("second try"), "\(first.stdout)")
            let second = try await cluster.cli(["logs", run, "flaky", "--attempt", "2"])
            #expect(second.stdout.contains("second try") && !second.stdout.contains("first try"), "\(second.stdout)")
            let latest = try await cluster.cli(["logs", run, "flaky"])
            #expect(latest.stdout == second.stdout)
            let followed = try await cluster.cli(["logs", run, "flaky", "--attempt", "1", "--follow"], timeout: .seconds(30))
            #expect(followed.status == 0 && followed.stdout == first.stdout, "an ended attempt's log ends: \(followed.stderr)")
            let beyond = try await cluster.cli(["logs", run, "flaky", "--attempt", "3"])
            #expect(beyond.status == 2 && beyond.stderr.contains("has no attempt 3; it has attempts 1 to 2"), "\(beyond.stderr)")
            let unknown = try await cluster.cli(["logs", run, "flakey", "--attempt", "1"])
            #expect(unknown.status == 2 && unknown.stderr.contains("run \(run) has no step flakey; its steps are flaky"), "\(unknown.stderr)")
            let zero = try await cluster.cli(["logs", run, "flaky", "--attempt", "0"])
            #expect(zero.status != 0 && zero.stderr.contains("--attempt counts from 1"), "\(zero.stderr)")

            // Run again: the step is reused; its metrics and times come with it, its attempts stay in the first run.
            let again = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(again.status == 0, "\(again.stderr)")
            let reusedRun = try #require(try again.json()["run"] as? String)
            let reusedStatus = try await cluster.cli(["status", reusedRun, "--json"])
            let reused = try #require((try reusedStatus.json()["steps"] as? [[String: Any]])?.first)
            #expect(reused["reused"] as? Bool == true)
            #expect(reused["sourceRun"] as? String == run)
            #expect(reused["metrics"] as? [String: Double] == ["loss": 0.25, "accuracy": 0.875], "\(reused)")
            #expect(reused["finishedAt"] as? Int64 != nil && reused["startedAt"] == nil, "\(reused)")
            #expect((reused["attemptHistory"] as? [Any])?.isEmpty == true, "\(reused)")
            let reusedLog = try await cluster.cli(["logs", reusedRun, "flaky", "--attempt", "1"])
            #expect(reusedLog.status == 2 && reusedLog.stderr.contains("was reused from run \(run)"), "\(reusedLog.stderr)")
            #expect(reusedLog.stderr.contains("conduit logs \(run) flaky --attempt 1"), "\(reusedLog.stderr)")
        }
    }

    @Test func downloadReachesAnyStepOutputReusedOrNotAndNested() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            _ = try Fixtures.pipeline("""
                type: pipeline
                inputs:
                  word: {type: string}
                outputs:
                  summary: {type: uri_folder}
                jobs:
                  child:
                    command: echo "${{inputs.word}}" > ${{outputs.result}}/word.txt
                    inputs:
                      word: ${{parent.inputs.word}}
                    outputs:
                      result: ${{parent.outputs.summary}}
                """, named: "inner.yml", in: work)
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                outputs:
                  final: {type: uri_folder}
                jobs:
                  make:
                    command: echo made > ${{outputs.data}}/made.txt
                    outputs: {data: }
                  inner:
                    type: pipeline
                    component: ./inner.yml
                    inputs:
                      word: nested
                  last:
                    command: cp ${{inputs.data}}/made.txt ${{outputs.final}}/
                    inputs:
                      data: ${{parent.jobs.make.outputs.data}}
                    outputs:
                      final: ${{parent.outputs.final}}
                """, in: work)
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let run = try #require(try first.json()["run"] as? String)

            let step = try await cluster.cli(["download", run, "make.data", work + "/out"])
            #expect(step.status == 0, "\(step.stderr)")
            #expect(step.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == work + "/out/data")
            #expect(try String(contentsOfFile: work + "/out/data/made.txt", encoding: .utf8) == "made\n")
            let nested = try await cluster.cli(["download", run, "inner/child.result", work + "/out"])
            #expect(nested.status == 0, "\(nested.stderr)")
            #expect(try String(contentsOfFile: work + "/out/result/word.txt", encoding: .utf8) == "nested\n")
            let pipelineOutput = try await cluster.cli(["download", run, "final", work + "/out"])
            #expect(pipelineOutput.status == 0, "\(pipelineOutput.stderr)")
            #expect(try String(contentsOfFile: work + "/out/final/made.txt", encoding: .utf8) == "made\n")

            // Reused steps' outputs are reachable from the run that reused them.
            let second = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let reusedRun = try #require(try second.json()["run"] as? String)
            #expect(steps(of: try second.json()).values.allSatisfy(\.reused))
            let reused = try await cluster.cli(["download", reusedRun, "inner/child.result", work + "/again"])
            #expect(reused.status == 0, "\(reused.stderr)")
            #expect(try String(contentsOfFile: work + "/again/result/word.txt", encoding: .utf8) == "nested\n")

            // A name that does not exist is refused, naming what exists; nothing is written.
            let cases: [(String, String)] = [
                ("nope.data", "run \(run) has no step nope (from 'nope.data'); its steps are make, inner/child, last"),
                ("make.nope", "step make of run \(run) has no output nope; its outputs are data"),
                ("inner.result", "run \(run) has no step inner (from 'inner.result')"),
                ("nope", "run \(run) has no output nope; its outputs are final; for a step's output give STEP.OUTPUT (its steps are make, inner/child, last)"),
                ("make.", "'make.' is not STEP.OUTPUT"),
            ]
            for (name, message) in cases {
                let refused = try await cluster.cli(["download", run, name, work + "/refused"])
                #expect(refused.status == 2, "\(name): \(refused.stderr)")
                #expect(refused.stderr.contains(message), "\(name): \(refused.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: work + "/refused"))
        }
    }

    @Test func aRunningStepShowsItsAttemptInProgress() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  wait:
                    command: echo waiting; touch \(work)/started; while [ ! -e \(work)/release ]; do sleep 0.1; done
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try await waitForFile(work + "/started")
            let status = try await cluster.cli(["status", run, "--json"])
            let step = try #require((try status.json()["steps"] as? [[String: Any]])?.first)
            #expect(step["startedAt"] as? Int64 != nil && step["finishedAt"] == nil && step["durationSeconds"] == nil, "\(step)")
            #expect((step["outputs"] as? [String: String])?.isEmpty == true, "\(step)")
            let history = try #require(step["attemptHistory"] as? [[String: Any]], "\(step)")
            #expect(history.count == 1, "\(history)")
            #expect(["dispatched", "running"].contains(history.first?["status"] as? String ?? ""), "\(history)")
            #expect(history.first?["finishedAt"] == nil && history.first?["worker"] as? String == "worker1", "\(history)")
            let text = try await cluster.cli(["status", run])
            #expect(text.stdout.contains("attempt 1  "), "\(text.stdout)")
            // Following the attempt in progress ends when it does.
            async let followed = cluster.cli(["logs", run, "wait", "--attempt", "1", "--follow"], timeout: .seconds(60))
            #expect(FileManager.default.createFile(atPath: work + "/release", contents: nil))
            let log = try await followed
            #expect(log.status == 0 && log.stdout.contains("waiting"), "\(log.stderr)")
        }
    }

    @Test func aFailedStepSaysItProducedNoOutputs() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  broken:
                    command: echo partial > ${{outputs.o}}/x; exit 4
                    outputs: {o: }
                """, in: work)
            let result = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(result.status == 1, "\(result.stderr)")
            let run = try #require(try result.json()["run"] as? String)
            let refused = try await cluster.cli(["download", run, "broken.o", work + "/out"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("step broken of run \(run) produced no outputs: it is failed"), "\(refused.stderr)")
            let status = try await cluster.cli(["status", run, "--json"])
            let step = try #require((try status.json()["steps"] as? [[String: Any]])?.first)
            let history = try #require(step["attemptHistory"] as? [[String: Any]])
            #expect(history.count == 1 && history[0]["status"] as? String == "failed" && history[0]["exitCode"] as? Int == 4, "\(history)")
            #expect(step["finishedAt"] as? Int64 != nil && step["durationSeconds"] as? Double != nil, "\(step)")
        }
    }
}
