import Foundation
import TestKit
import Testing

/// A three-step pipeline with code, local data, a parameter and a metric:
/// `prep` (code folder, local data) → `train` (lr; writes a model and an `accuracy` metric) →
/// `evaluate`; `notes` reads nothing upstream.
private func learningPipeline(in directory: String) throws -> String {
    let files: [String: String] = [
        "pipeline.yml": """
            type: pipeline
            display_name: learning
            inputs:
              lr: 0.1
              raw: {type: uri_folder, path: ./data}
            jobs:
              prep:
                code: ./src
                command: python3 prep.py ${{inputs.raw}} ${{outputs.clean}}
                environment: {image: python:3.11}
                inputs:
                  raw: ${{parent.inputs.raw}}
                outputs:
                  clean: {type: uri_folder}
              train:
                code: ./src
                command: python3 train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}
                environment: {image: python:3.11}
                inputs:
                  data: ${{parent.jobs.prep.outputs.clean}}
                  lr: ${{parent.inputs.lr}}
                outputs:
                  model: {type: uri_folder}
              evaluate:
                command: cat ${{inputs.model}}/model.txt > ${{outputs.report}}/report.txt
                inputs:
                  model: ${{parent.jobs.train.outputs.model}}
                outputs:
                  report: {type: uri_folder}
              notes:
                command: echo notes > ${{outputs.note}}/note.txt
                outputs:
                  note: {type: uri_folder}
            """,
        "data/rows.txt": "3\n4\n5\n",
        "src/prep.py": """
            import pathlib, sys
            rows = [int(x) for x in pathlib.Path(sys.argv[1], "rows.txt").read_text().split()]
            pathlib.Path(sys.argv[2], "clean.txt").write_text(" ".join(str(r * 10) for r in rows) + "\\n")
            """,
        "src/train.py": """
            import json, os, pathlib, sys
            values = [int(x) for x in pathlib.Path(sys.argv[1], "clean.txt").read_text().split()]
            lr = float(sys.argv[2])
            pathlib.Path(sys.argv[3], "model.txt").write_text(f"weights {sum(values) * lr:.4f}\\n")
            with open(os.environ["CONDUIT_METRICS_FILE"], "a") as metrics:
                metrics.write(json.dumps({"name": "accuracy", "value": 0.5 + lr}) + "\\n")
            print("trained with lr", lr)
            """,
    ]
    for (name, text) in files {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    return directory + "/pipeline.yml"
}

/// step name → the `decision` of a dry run's JSON.
private func decisions(_ result: CLIResult) throws -> [String: [String: Any]] {
    let object = try result.json()
    var byName: [String: [String: Any]] = [:]
    for case let step as [String: Any] in object["steps"] as? [Any] ?? [] {
        if let name = step["name"] as? String { byName[name] = step }
    }
    return byName
}

/// The iteration loop through real processes: dry runs, re-runs, diffs and local step replays.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct IterationLoopTests {
    /// After a run of an edited copy of the pipeline (same name, train.py changed), the original
    /// with only `--set` changed is compared with its own earlier run, not the copy's later one.
    @Test func explainAndDryRunCompareWithTheNearestExecutionNotTheLatest() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try learningPipeline(in: work + "/original")
            let copy = try learningPipeline(in: work + "/copy")
            try (String(contentsOfFile: work + "/copy/src/train.py", encoding: .utf8) + "\nprint('edited')\n")
                .write(toFile: work + "/copy/src/train.py", atomically: true, encoding: .utf8)
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let firstRun = try #require(try first.json()["run"] as? String)
            let edited = try await cluster.cli(["submit", copy, "--wait", "--json"])
            #expect(edited.status == 0, "\(edited.stderr)")
            #expect(steps(of: try edited.json())["train"]?.reused == false, "the copy's train runs: \(edited.stdout)")

            let preview = try await cluster.cli(["submit", pipeline, "--dry-run", "--set", "inputs.lr=0.2", "--json"])
            #expect(preview.status == 0, "\(preview.stderr)")
            let train = try #require(try decisions(preview)["train"], "\(preview.stdout)")
            #expect(train["reasons"] as? [String] == ["parameter lr: 0.1 → 0.2"], "\(preview.stdout)")
            #expect(train["sourceRun"] as? String == firstRun, "\(preview.stdout)")
            let previewText = try await cluster.cli(["submit", pipeline, "--dry-run", "--set", "inputs.lr=0.2"])
            #expect(previewText.stdout.contains("(compared with run \(firstRun), the nearest earlier execution)"), "\(previewText.stdout)")

            let second = try await cluster.cli(["submit", pipeline, "--set", "inputs.lr=0.2", "--wait", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let secondRun = try #require(try second.json()["run"] as? String)
            let explained = try await cluster.cli(["explain", secondRun, "train", "--json"])
            #expect(explained.status == 0, "\(explained.stderr)")
            #expect(try explained.json()["differences"] as? [String] == ["parameter lr: 0.1 → 0.2"], "\(explained.stdout)")
            #expect(try explained.json()["comparedRun"] as? String == firstRun, "\(explained.stdout)")
            let explainedText = try await cluster.cli(["explain", secondRun, "train"])
            #expect(explainedText.stdout.contains("compared with run \(firstRun), the nearest earlier execution of train"), "\(explainedText.stdout)")
            #expect(!explainedText.stdout.contains("code:"), "\(explainedText.stdout)")
        }
    }

    @Test func dryRunRerunAndDiffFollowWhatChanged() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try learningPipeline(in: work)
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let firstRun = try #require(try first.json()["run"] as? String)
            let runsBefore = try await cluster.cli(["runs", "--json"]).stdout

            // Nothing changed: every step would be reused from the first run.
            let same = try await cluster.cli(["submit", pipeline, "--dry-run", "--json"])
            #expect(same.status == 0, "\(same.stderr)")
            let sameSteps = try decisions(same)
            #expect(Set(sameSteps.keys) == ["prep", "train", "evaluate", "notes"])
            #expect(sameSteps.values.allSatisfy { $0["decision"] as? String == "reuse" && $0["sourceRun"] as? String == firstRun }, "\(same.stdout)")

            // A changed parameter: train runs, and says why; evaluate waits on train's new outputs.
            let changed = try await cluster.cli(["submit", pipeline, "--dry-run", "--set", "inputs.lr=0.2"])
            #expect(changed.status == 0, "\(changed.stderr)")
            let lines = changed.stdout.split(separator: "\n").map(String.init)
            let trainLine = try #require(lines.first { $0.hasPrefix("train ") }, "\(changed.stdout)")
            #expect(trainLine.contains(" run ") && trainLine.contains("parameter lr: 0.1 → 0.2"), "\(trainLine)")
            #expect(lines.contains { $0.hasPrefix("prep ") && $0.contains("reuse") && $0.contains(firstRun) }, "\(changed.stdout)")
            #expect(lines.contains { $0.hasPrefix("evaluate ") && $0.contains("depends") && $0.contains("train") }, "\(changed.stdout)")
            // The dry runs recorded nothing.
            let runsAfter = try await cluster.cli(["runs", "--json"]).stdout
            #expect(runsAfter == runsBefore)

            // Run the change, then compare the two runs.
            let second = try await cluster.cli(["submit", pipeline, "--set", "inputs.lr=0.2", "--wait", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let secondRun = try #require(try second.json()["run"] as? String)
            let diff = try await cluster.cli(["diff", firstRun, secondRun, "--json"])
            #expect(diff.status == 0, "\(diff.stderr)")
            let diffSteps = (try diff.json()["steps"] as? [[String: Any]]) ?? []
            let train = try #require(diffSteps.first { $0["step"] as? String == "train" })
            #expect(train["differences"] as? [String] == ["parameter lr: 0.1 → 0.2"], "\(diff.stdout)")
            let accuracy = try #require((train["metrics"] as? [[String: Any]])?.first { $0["name"] as? String == "accuracy" }, "\(diff.stdout)")
            #expect(abs((accuracy["a"] as? Double ?? 0) - 0.6) < 1e-9 && abs((accuracy["b"] as? Double ?? 0) - 0.7) < 1e-9, "\(accuracy)")
            #expect(abs((accuracy["delta"] as? Double ?? 0) - 0.1) < 1e-9, "\(accuracy)")
            let prep = try #require(diffSteps.first { $0["step"] as? String == "prep" })
            #expect((prep["differences"] as? [String])?.isEmpty == true && (prep["b"] as? [String: Any])?["reused"] as? Bool == true)
            let table = try await cluster.cli(["diff", firstRun, secondRun])
            #expect(table.stdout.contains("parameter lr: 0.1 → 0.2") && table.stdout.contains("accuracy 0.6 → 0.7 (+0.1)"), "\(table.stdout)")

            // rerun --from train: exactly train and its downstream run again; the rest is reused.
            let preview = try await cluster.cli(["rerun", secondRun, "--from", "train", "--dry-run", "--json"])
            #expect(preview.status == 0, "\(preview.stderr)")
            let previewSteps = try decisions(preview)
            #expect(previewSteps["prep"]?["decision"] as? String == "reuse")
            #expect(previewSteps["train"]?["reasons"] as? [String] == ["reuse disabled: --force train was given"])
            #expect(previewSteps["evaluate"]?["decision"] as? String == "run", "forced too: \(preview.stdout)")
            #expect(previewSteps["notes"]?["decision"] as? String == "reuse")
            let rerun = try await cluster.cli(["rerun", secondRun, "--from", "train", "--wait", "--json"])
            #expect(rerun.status == 0, "\(rerun.stderr)")
            let rerunSteps = steps(of: try rerun.json())
            #expect(rerunSteps["prep"]?.reused == true && rerunSteps["notes"]?.reused == true, "\(rerunSteps)")
            #expect(rerunSteps["train"]?.reused == false && rerunSteps["evaluate"]?.reused == false, "\(rerunSteps)")
            #expect(rerunSteps.values.allSatisfy { $0.status == "completed" })
            // It re-ran the recorded parameter (0.2), not the file's (0.1).
            let rerunRun = try #require(try rerun.json()["run"] as? String)
            let sameAsSecond = try await cluster.cli(["diff", secondRun, rerunRun, "--json"])
            let rerunTrain = ((try sameAsSecond.json()["steps"] as? [[String: Any]]) ?? []).first { $0["step"] as? String == "train" }
            #expect(rerunTrain?["differences"] as? [String] == [] && rerunTrain?["sameOutputs"] as? Bool == true, "\(sameAsSecond.stdout)")

            // Unknown runs and steps are refused, naming what exists.
            let badStep = try await cluster.cli(["rerun", secondRun, "--from", "tran"])
            #expect(badStep.status == 2 && badStep.stderr.contains("its steps are prep, train, evaluate, notes"), "\(badStep.stderr)")
            let badRun = try await cluster.cli(["diff", firstRun, "run-nope"])
            #expect(badRun.status == 2 && badRun.stderr.contains("no run run-nope"), "\(badRun.stderr)")
        }
    }

    @Test func stepRunLocalReplaysWithRecordedInputsAndComparesOutputs() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try learningPipeline(in: work)
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let run = try #require(try first.json()["run"] as? String)
            // The local data changes after the run: the replay still uses the recorded input.
            try "1\n".write(toFile: work + "/data/rows.txt", atomically: true, encoding: .utf8)

            let replay = try await cluster.cli(["step", "run", run, "train", "--local", "--dir", work + "/replay"])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.contains("trained with lr 0.1"), "\(replay.stdout)")
            #expect(replay.stdout.contains("output model: \(work)/replay/outputs/model  matches run \(run)"), "\(replay.stdout)")
            #expect(replay.stdout.contains("metric accuracy 0.6 → 0.6 (+0) (run → replay)"), "\(replay.stdout)")
            #expect(try String(contentsOfFile: work + "/replay/outputs/model/model.txt", encoding: .utf8) == "weights 12.0000\n")

            let edited = try await cluster.cli(["step", "run", run, "train", "--local", "--dir", work + "/replay2", "--set", "inputs.lr=0.3", "--json"])
            #expect(edited.status == 0, "\(edited.stderr)")
            let output = try #require((try edited.json()["outputs"] as? [[String: Any]])?.first)
            #expect(output["matches"] as? Bool == false, "\(edited.stdout)")
            let accuracy = try #require((try edited.json()["metrics"] as? [[String: Any]])?.first, "\(edited.stdout)")
            #expect(accuracy["name"] as? String == "accuracy" && accuracy["a"] as? Double == 0.6 && accuracy["b"] as? Double == 0.8, "\(accuracy)")
            #expect(try String(contentsOfFile: work + "/replay2/outputs/model/model.txt", encoding: .utf8) == "weights 36.0000\n")

            // Edited code from a local folder; its exit status is the command's.
            try FileManager.default.createDirectory(atPath: work + "/broken", withIntermediateDirectories: true)
            try "import sys\nprint('broken on purpose')\nsys.exit(4)\n".write(toFile: work + "/broken/train.py", atomically: true, encoding: .utf8)
            let broken = try await cluster.cli(["step", "run", run, "train", "--local", "--dir", work + "/replay3", "--code", work + "/broken"])
            #expect(broken.status == 4, "\(broken.stdout)\(broken.stderr)")
            #expect(broken.stdout.contains("broken on purpose") && broken.stdout.contains("not compared: the command failed"), "\(broken.stdout)")

            let notLocal = try await cluster.cli(["step", "run", run, "train"])
            #expect(notLocal.status != 0 && notLocal.stderr.contains("--local"), "\(notLocal.stderr)")
            let badSet = try await cluster.cli(["step", "run", run, "train", "--local", "--dir", work + "/replay4", "--set", "inputs.epochs=3"])
            #expect(badSet.status == 2 && badSet.stderr.contains("has no input 'epochs'"), "\(badSet.stderr)")
            let reused = try await cluster.cli(["step", "run", run, "nope", "--local"])
            #expect(reused.status == 2 && reused.stderr.contains("its steps are prep, train, evaluate, notes"), "\(reused.stderr)")
        }
    }

    /// A failed run re-run once what made it fail is fixed: the completed steps are reused, the
    /// failed one and what it blocked run; a step that never became ready cannot be replayed.
    @Test func aFailedRunIsRerunReusingWhatCompleted() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  first:
                    command: echo one > ${{outputs.o}}/one.txt
                    outputs:
                      o: {type: uri_folder}
                  flaky:
                    command: test -f \(work)/ready && cp ${{inputs.i}}/one.txt ${{outputs.o}}/two.txt
                    inputs:
                      i: ${{parent.jobs.first.outputs.o}}
                    outputs:
                      o: {type: uri_folder}
                  last:
                    command: cat ${{inputs.i}}/two.txt
                    inputs:
                      i: ${{parent.jobs.flaky.outputs.o}}
                """, in: work)
            let failed = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
            let failedRun = try #require(try failed.json()["run"] as? String)
            let blocked = try await cluster.cli(["step", "run", failedRun, "last", "--local", "--dir", work + "/replay"])
            #expect(blocked.status == 2 && blocked.stderr.contains("never became ready"), "\(blocked.stderr)")

            try "".write(toFile: work + "/ready", atomically: true, encoding: .utf8)
            let rerun = try await cluster.cli(["rerun", failedRun, "--wait", "--json"])
            #expect(rerun.status == 0, "\(rerun.stderr)")
            let rerunSteps = steps(of: try rerun.json())
            #expect(rerunSteps["first"]?.reused == true, "\(rerunSteps)")
            #expect(rerunSteps["flaky"]?.reused == false && rerunSteps["last"]?.reused == false, "\(rerunSteps)")
            #expect(rerunSteps.values.allSatisfy { $0.status == "completed" }, "\(rerunSteps)")
        }
    }

    /// `conduit run --dry-run`: the embedded coordinator answers from this machine's data directory.
    @Test func embeddedDryRunSeesTheLocalCache() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = try learningPipeline(in: home + "/project")
        func conduit(_ arguments: [String]) async throws -> CLIResult {
            try await runEmbedded(arguments, home: home + "/data", directory: home)
        }
        let fresh = try await conduit(["run", pipeline, "--dry-run", "--json"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let freshSteps = try decisions(fresh)
        #expect(freshSteps["prep"]?["reasons"] as? [String] == ["step prep never ran before"], "\(fresh.stdout)")
        #expect(freshSteps["train"]?["decision"] as? String == "depends" && freshSteps["notes"]?["decision"] as? String == "run", "\(fresh.stdout)")
        #expect(!FileManager.default.fileExists(atPath: home + "/conduit-outputs"), "a dry run copies no outputs")

        let ran = try await conduit(["run", pipeline, "--json"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let again = try await conduit(["run", pipeline, "--dry-run", "--json"])
        #expect(try decisions(again).values.allSatisfy { $0["decision"] as? String == "reuse" }, "\(again.stdout)")
        let changed = try await conduit(["run", pipeline, "--dry-run", "--json", "--set", "inputs.lr=0.5"])
        let changedSteps = try decisions(changed)
        #expect(changedSteps["train"]?["reasons"] as? [String] == ["parameter lr: 0.1 → 0.5"], "\(changed.stdout)")
        #expect(changedSteps["prep"]?["decision"] as? String == "reuse" && changedSteps["evaluate"]?["decision"] as? String == "depends")
    }
}
