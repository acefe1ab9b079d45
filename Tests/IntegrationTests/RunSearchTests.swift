import Foundation
import TestKit
import Testing

/// `conduit runs --sort -metrics.NAME --filter ...` against a real coordinator and worker.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RunSearchTests {
    @Test func runsAreFoundAndOrderedByWhatTheirStepsLogged() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                inputs:
                  acc: 0.5
                jobs:
                  train:
                    command: |
                      echo "{\\"name\\": \\"accuracy\\", \\"value\\": ${{inputs.acc}}}" >> "$CONDUIT_METRICS_FILE"
                    inputs:
                      acc: ${{parent.inputs.acc}}
                """, in: work)
            var runs: [String: String] = [:]
            for accuracy in ["0.7", "0.9", "0.8"] {
                let submitted = try await cluster.cli(["submit", pipeline, "--set", "inputs.acc=\(accuracy)", "--wait", "--json"])
                #expect(submitted.status == 0, "\(submitted.stderr)")
                runs[accuracy] = try #require(try submitted.json()["run"] as? String)
            }
            let best = try await cluster.cli(["runs", "--sort", "-metrics.accuracy"])
            #expect(best.status == 0, "\(best.stderr)")
            let order = best.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            #expect(order == [runs["0.9"], runs["0.8"], runs["0.7"]].compactMap { $0 }, "\(best.stdout)")
            #expect(best.stdout.contains("accuracy 0.9"), "the sorted metric is shown: \(best.stdout)")

            let good = try await cluster.cli(["runs", "--filter", "metrics.accuracy >= 0.8", "--sort", "metrics.accuracy", "--json"])
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [[String: Any]], "\(good.stderr)")
            #expect(listed.compactMap { $0["run"] as? String } == [runs["0.8"], runs["0.9"]].compactMap { $0 })

            let bad = try await cluster.cli(["runs", "--filter", "metrics.accuracy > high"])
            #expect(bad.status == 2 && bad.stderr.contains("metrics.accuracy is compared with a number, got 'high'"), "\(bad.status) \(bad.stderr)")
            let none = try await cluster.cli(["runs", "--filter", "metrics.accuracy > 2"])
            #expect(none.status == 0 && none.stdout.contains("no run matches"), "\(none.stdout)")
        }
    }
}
