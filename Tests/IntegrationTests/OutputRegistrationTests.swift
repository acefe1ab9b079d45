import Foundation
import TestKit
import Testing

/// Outputs with `name:` registered as data assets by a real coordinator and worker, read back as
/// `azureml:NAME@latest` by a second pipeline, and `conduit lineage` both ways.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OutputRegistrationTests {
    static let producer = """
        type: pipeline
        display_name: producer
        inputs:
          raw: {type: uri_folder, path: ./data}
        outputs:
          model: {type: uri_folder, name: lineage-model}
        jobs:
          prep:
            command: cp ${{inputs.raw}}/raw.txt ${{outputs.clean}}/clean.txt
            inputs:
              raw: ${{parent.inputs.raw}}
            outputs:
              clean: {type: uri_folder}
          train:
            code: ./src
            command: bash train.sh ${{inputs.clean}} ${{outputs.model}}
            inputs:
              clean: ${{parent.jobs.prep.outputs.clean}}
            outputs:
              model: ${{parent.outputs.model}}
        """

    static let consumer = """
        type: pipeline
        display_name: consumer
        inputs:
          model: {type: uri_folder, path: azureml:lineage-model@latest}
        jobs:
          score:
            command: cp ${{inputs.model}}/weights.txt ${{outputs.scores}}/used.txt
            inputs:
              model: ${{parent.inputs.model}}
            outputs:
              scores: {type: uri_folder}
        """

    /// The steps of a `--json` summary by name.
    func steps(_ result: CLIResult) throws -> [String: [String: Any]] {
        let steps = try result.json()["steps"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: steps.map { ($0["name"] as? String ?? "", $0) })
    }

    @Test func anOutputRegisteredByOneRunIsReadByTheNextAndLineageGoesBothWays() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: work + "/data", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
            try "raw rows\n".write(toFile: work + "/data/raw.txt", atomically: true, encoding: .utf8)
            try "cat \"$1/clean.txt\" > \"$2/weights.txt\"\necho trained >> \"$2/weights.txt\"\n"
                .write(toFile: work + "/src/train.sh", atomically: true, encoding: .utf8)
            let producer = try Fixtures.pipeline(Self.producer, named: "producer.yml", in: work)
            let consumer = try Fixtures.pipeline(Self.consumer, named: "consumer.yml", in: work)
            let registry = ["--registry", work + "/registry"]

            // The producer's completed step registers its output.
            let first = try await cluster.cli(["submit", producer, "--wait", "--json"] + registry)
            #expect(first.status == 0, "\(first.stderr)")
            let run1 = try #require(try first.json()["run"] as? String)
            #expect(try steps(first)["train"]?["registered"] as? [String] == ["model → azureml:lineage-model:1"], "\(first.stdout)")
            let shown = try await cluster.cli(["data", "show", "lineage-model", "--json"] + registry)
            #expect(shown.status == 0, "\(shown.stderr)")
            let asset = try #require(try shown.json()["asset"] as? [String: Any])
            #expect(asset["runID"] as? String == run1 && asset["step"] as? String == "train" && asset["output"] as? String == "model", "\(asset)")
            #expect(asset["version"] as? String == "1")
            let text = try await cluster.cli(["data", "show", "lineage-model:1"] + registry)
            #expect(text.stdout.contains("produced by: run \(run1), step train, output model"), "\(text.stdout)")

            // A second pipeline reads it as azureml:lineage-model@latest: exactly those bytes.
            let second = try await cluster.cli(["submit", consumer, "--wait", "--json"] + registry)
            #expect(second.status == 0, "\(second.stderr)")
            let run2 = try #require(try second.json()["run"] as? String)
            let download = work + "/got"
            let fetched = try await cluster.cli(["download", run2, "score.scores", download])
            #expect(fetched.status == 0, "\(fetched.stderr)")
            #expect(try String(contentsOfFile: download + "/scores/used.txt", encoding: .utf8) == "raw rows\ntrained\n")

            // Lineage of the asset: up to the pipeline input and the code, down to the consumer.
            let lineage = try await cluster.cli(["lineage", "lineage-model@latest", "--json"])
            #expect(lineage.status == 0, "\(lineage.stderr)")
            let report = try lineage.json()
            let subject = try #require(report["subject"] as? [String: Any])
            #expect(subject["runID"] as? String == run1 && subject["assets"] as? [String] == ["azureml:lineage-model:1"], "\(subject)")
            let up = report["upstream"] as? [[String: Any]] ?? []
            #expect(up.map { $0["step"] as? String ?? "" } == ["train", "prep"], "\(up)")
            #expect(up.first?["code"] as? String != nil, "the code digest of train")
            let trainInput = (up.first?["inputs"] as? [[String: Any]])?.first
            #expect(trainInput?["origin"] as? String == "step_output" && trainInput?["fromStep"] as? String == "prep", "\(String(describing: trainInput))")
            let prepInput = (up.last?["inputs"] as? [[String: Any]])?.first
            #expect(prepInput?["origin"] as? String == "pipeline_input", "\(String(describing: prepInput))")
            #expect((prepInput?["path"] as? String)?.hasSuffix("/data") == true, "\(String(describing: prepInput))")
            let down = report["downstream"] as? [[String: Any]] ?? []
            #expect(down.count == 1, "\(down)")
            #expect(down.first?["runID"] as? String == run2 && down.first?["step"] as? String == "score", "\(down)")
            #expect(down.first?["asset"] as? String == "azureml:lineage-model:1", "\(down)")

            // Lineage of the consumer's output goes up through the asset into the producing run.
            let fromScores = try await cluster.cli(["lineage", run2, "score.scores", "--json"])
            #expect(fromScores.status == 0, "\(fromScores.stderr)")
            let chain = (try fromScores.json()["upstream"] as? [[String: Any]] ?? []).map { "\($0["runID"] as? String ?? "")/\($0["step"] as? String ?? "")" }
            #expect(chain == ["\(run2)/score", "\(run1)/train", "\(run1)/prep"], "\(chain)")
            let human = try await cluster.cli(["lineage", run2, "score.scores"])
            #expect(human.stdout.contains("input model ← azureml:lineage-model:1, output model of train in run \(run1)"), "\(human.stdout)")

            // The same content again registers nothing new, and reuse is untouched by registration.
            let again = try await cluster.cli(["submit", producer, "--wait", "--json"] + registry)
            #expect(try steps(again)["train"]?["reused"] as? Bool == true)
            #expect((try steps(again)["train"]?["registered"] as? [String])?.first?.contains("already registered with identical content") == true, "\(again.stdout)")
            let renamed = try Fixtures.pipeline(Self.producer.replacingOccurrences(of: "name: lineage-model", with: "name: other-model"), named: "renamed.yml", in: work)
            let third = try await cluster.cli(["submit", renamed, "--wait", "--json"] + registry)
            #expect(try steps(third)["train"]?["reused"] as? Bool == true, "registering under another name keeps the cache key")
            let both = try await cluster.cli(["lineage", "other-model:1", "--json"])
            #expect((try both.json()["subject"] as? [String: Any])?["assets"] as? [String] == ["azureml:lineage-model:1", "azureml:other-model:1"])

            // New content: version 2, and @latest follows it.
            try "new rows\n".write(toFile: work + "/data/raw.txt", atomically: true, encoding: .utf8)
            let fourth = try await cluster.cli(["submit", producer, "--wait", "--json"] + registry)
            #expect(try steps(fourth)["train"]?["registered"] as? [String] == ["model → azureml:lineage-model:2"], "\(fourth.stdout)")
            let fifth = try await cluster.cli(["submit", consumer, "--wait", "--json"] + registry)
            #expect(try steps(fifth)["score"]?["reused"] as? Bool == false, "new content under @latest re-runs the reader")
            let listed = try await cluster.cli(["data", "list", "--json"] + registry)
            let entries = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
            let model = entries.first { $0["name"] as? String == "lineage-model" }
            #expect(model?["versions"] as? [String] == ["1", "2"] && model?["latest"] as? String == "2" && model?["source"] as? String == "runs", "\(entries)")
        }
    }

    @Test func aTakenVersionAndAnUnknownAssetAreRefusedWithWhatExists() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            func pipeline(_ content: String, version: String) throws -> String {
                try Fixtures.pipeline("""
                    type: pipeline
                    jobs:
                      make:
                        command: echo \(content) > ${{outputs.out}}/value.txt
                        outputs:
                          out: {type: uri_folder, name: pinned-value, version: "\(version)"}
                    """, named: "\(content)-\(version).yml", in: work)
            }
            let registry = ["--registry", work + "/registry"]
            let first = try await cluster.cli(["submit", try pipeline("one", version: "7"), "--wait", "--json"] + registry)
            #expect(try steps(first)["make"]?["registered"] as? [String] == ["out → azureml:pinned-value:7"], "\(first.stdout)")
            // Other content under the same version: the step completes, the version stays as it was.
            let second = try await cluster.cli(["submit", try pipeline("two", version: "7"), "--wait"] + registry)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout.contains("not registered: out: azureml:pinned-value:7 is already registered"), "\(second.stdout)")
            #expect(second.stdout.contains("give version: 8"), "\(second.stdout)")
            let shown = try await cluster.cli(["data", "show", "pinned-value:7", "--json"] + registry)
            #expect((try shown.json()["asset"] as? [String: Any])?["runID"] as? String == (try first.json()["run"] as? String))

            let reader = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  read:
                    command: cat ${{inputs.data}}
                    inputs:
                      data: {type: uri_folder, path: azureml:pinned-valeu@latest}
                """, named: "reader.yml", in: work)
            // Refused at its line before anything is sent, naming what runs registered.
            let refused = try await cluster.cli(["submit", reader, "--wait"] + registry)
            #expect(refused.status == 2, "\(refused.stderr)")
            #expect(refused.stderr.contains("reader.yml:6") && refused.stderr.contains("pinned-valeu") && refused.stderr.contains("registered: pinned-value"), "\(refused.stderr)")
            #expect(try await cluster.cli(["runs", "--json"]).stdout.components(separatedBy: "\"run\"").count == 3, "no third run was started")
            let unknown = try await cluster.cli(["lineage", "pinned-value:9"])
            #expect(unknown.status != 0 && unknown.stderr.contains("versions: 7"), "\(unknown.stderr)")
        }
    }
}
