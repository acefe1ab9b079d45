import Foundation
import TestKit
import Testing

/// Real steps that log with real MLflow clients, 2.x and 3.x (installed by `scripts/mlflow-venvs.sh`),
/// unchanged and with nothing set by the user: every value reaches the coordinator while the step
/// runs and is kept, with params and tags, for `conduit metrics` and `conduit status`.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct MLflowTrackingTests {
    /// The interpreter of the virtual environment holding MLflow `major`.x.
    static func python(major: Int) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let root = ProcessHarness.packageRoot()
        let path = environment["CONDUIT_MLFLOW\(major)_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? root + "/.build/mlflow\(major)-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("no MLflow \(major).x client at \(path): install both with `bash scripts/mlflow-venvs.sh` (`make setup` and .ci/run do)")
        }
        return path
    }

    /// Runs a program to its end; its exit status and output.
    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// A training step as users write it: params, a tag, a loss over 50 steps (pausing halfway until
    /// told to go on), a batch of metrics, a nested run, an artifact and a scikit-learn model.
    static let train = """
        import os, pathlib, sys, time
        import mlflow, mlflow.sklearn
        from sklearn.linear_model import LogisticRegression
        work, out = sys.argv[1], pathlib.Path(sys.argv[2])
        print("mlflow", mlflow.__version__)
        with mlflow.start_run():
            mlflow.log_param("C", 0.5)
            mlflow.log_params({"solver": "lbfgs", "classes": 2})
            mlflow.set_tag("team", "vision")
            for step in range(50):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
                if step == 24:
                    pathlib.Path(work, "halfway").touch()
                    while not os.path.exists(os.path.join(work, "go-on")):
                        time.sleep(0.05)
            mlflow.log_metrics({"accuracy": 0.875, "f1": 0.8125})
            with mlflow.start_run(nested=True):
                mlflow.log_metric("fold_score", 0.75)
            pathlib.Path(work, "notes.txt").write_text("trained\\n")
            mlflow.log_artifact(os.path.join(work, "notes.txt"))
            model = LogisticRegression(C=0.5).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
            if mlflow.__version__.startswith("2."):
                mlflow.sklearn.log_model(model, "model")
            else:
                mlflow.sklearn.log_model(model, name="model")
        (out / "done.txt").write_text("ok\\n")
        """

    @Test(arguments: [2, 3])
    func aRealMLflowStepsHistoryArrivesLiveAndIsKept(major: Int) async throws {
        let python = try Self.python(major: major)
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
            try Self.train.write(toFile: work + "/src/train.py", atomically: true, encoding: .utf8)
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  train:
                    code: ./src
                    command: \(python) train.py \(work) ${{outputs.model_dir}}
                    outputs: {model_dir: }
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            // Live: while the step waits halfway, the first 25 values are already at the coordinator.
            try await waitForFile(work + "/halfway", timeout: .seconds(120))
            let deadline = ContinuousClock.now + .seconds(20)
            var live: [[String: Any]] = []
            while live.count < 25 {
                let partial = try await cluster.cli(["metrics", run, "train", "--json"])
                #expect(partial.status == 0, "\(partial.stderr)")
                live = (try partial.json()["points"] as? [[String: Any]] ?? []).filter { $0["key"] as? String == "loss" }
                guard live.count < 25, ContinuousClock.now < deadline else { break }
                try await Task.sleep(for: .milliseconds(200))  // between reads: the worker sends once a second
            }
            #expect(live.count == 25, "the values logged so far reach the coordinator while the step runs: \(live.count)")

            // Follow to the end: the rest arrives, and --follow ends with the run.
            async let followed = cluster.cli(["metrics", run, "train", "--follow", "--csv"], timeout: .seconds(180))
            #expect(FileManager.default.createFile(atPath: work + "/go-on", contents: nil))
            let follow = try await followed
            #expect(follow.status == 0, "\(follow.stderr)")
            let rows = follow.stdout.split(separator: "\n").filter { $0.contains(",loss,") }
            #expect(rows.count == 50, "every loss value once: \(rows.count)")

            let log = try await cluster.cli(["logs", run, "train"])
            #expect(log.stdout.contains("mlflow \(major)."), "the step ran MLflow \(major).x: \(log.stdout.prefix(2000))")
            let status = try await cluster.cli(["status", run, "--json"])
            let step = try #require((try status.json()["steps"] as? [[String: Any]])?.first)
            #expect(step["status"] as? String == "completed", "\(step) \(log.stdout.suffix(3000))")
            let last = try #require(step["metrics"] as? [String: Double], "\(step)")
            #expect(last["loss"] == 0.02 && last["accuracy"] == 0.875 && last["fold_score"] == 0.75, "the latest values: \(last)")

            let history = try await cluster.cli(["metrics", run, "--json"])
            let report = try history.json()
            let points = try #require(report["points"] as? [[String: Any]])
            let loss = points.filter { $0["key"] as? String == "loss" }
            #expect(loss.map { $0["stepIndex"] as? Int } == (0..<50).map { $0 }, "every step, in order")
            let values = loss.map { $0["value"] as? Double ?? .nan }
            #expect(values.count == 50 && zip(values, (0..<50).map { 1.0 / Double($0 + 1) }).allSatisfy { abs($0 - $1) < 1e-12 }, "\(values)")
            #expect(loss.allSatisfy { ($0["timestamp"] as? Int64 ?? 0) > 1_700_000_000_000 && $0["attempt"] as? Int == 1 })
            #expect(points.filter { $0["key"] as? String == "accuracy" }.count == 1, "a value MLflow writes again is recorded once")
            let runs = Set(points.compactMap { $0["mlflowRun"] as? String })
            #expect(runs.count == 2, "the nested run is told apart: \(runs)")
            let params = try #require(report["params"] as? [[String: Any]])
            var logged: [String: String] = [:]
            for param in params {
                if let key = param["key"] as? String, let value = param["value"] as? String { logged[key] = value }
            }
            #expect(logged == ["C": "0.5", "solver": "lbfgs", "classes": "2"], "params as text, non-numeric ones too")
            let tags = try #require(report["tags"] as? [[String: Any]])
            #expect(tags.contains { $0["key"] as? String == "team" && $0["value"] as? String == "vision" }, "\(tags)")

            // The model MLflow logged is kept with the attempt: downloaded, it loads and predicts.
            let downloaded = work + "/downloaded"
            let store = try await cluster.cli(["download", run, "train", downloaded, "--mlflow"])
            #expect(store.status == 0, "\(store.stderr)")
            let load = """
                import pathlib, sys, mlflow.sklearn
                models = [p.parent for p in pathlib.Path(sys.argv[1]).rglob("MLmodel")]
                notes = list(pathlib.Path(sys.argv[1]).rglob("notes.txt"))
                print(len(models), notes[0].read_text().strip() if notes else "no notes")
                print(list(mlflow.sklearn.load_model(str(models[0])).predict([[0.0], [3.0]])))
                """
            let loaded = try Self.run(python, ["-c", load, downloaded + "/mlruns"])
            #expect(loaded.status == 0, "\(loaded.stderr)")
            #expect(loaded.stdout == "1 trained\n[np.int64(0), np.int64(1)]\n" || loaded.stdout == "1 trained\n[0, 1]\n", "\(loaded.stdout)")
            let none = try await cluster.cli(["download", run, "nope", downloaded, "--mlflow"])
            #expect(none.status == 2 && none.stderr.contains("has no step nope; its steps are train"), "\(none.stderr)")

            let text = try await cluster.cli(["metrics", run])
            #expect(text.stdout.contains("50 values, steps 0–49: first 1, last 0.02, min 0.02, max 1"), "\(text.stdout)")
            #expect(text.stdout.contains("params: C=0.5") && text.stdout.contains("tags: team=vision"), "\(text.stdout)")
        }
    }

    @Test func aMetricsRequestNamesWhatIsWrong() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  count:
                    command: |
                      for i in 1 2 3; do echo "{\\"name\\": \\"n\\", \\"value\\": $i}" >> "$CONDUIT_METRICS_FILE"; done
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = try #require(try submitted.json()["run"] as? String)
            let csv = try await cluster.cli(["metrics", run, "--csv"])
            let rows = csv.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let steps: [String] = rows.map { $0.count == 7 ? $0[4] : "?" }
            #expect(steps == ["0", "1", "2"], "\(csv.stdout)")
            let unknown = try await cluster.cli(["metrics", run, "nope"])
            #expect(unknown.status == 2 && unknown.stderr.contains("has no step nope; its steps are count"), "\(unknown.stderr)")
            let both = try await cluster.cli(["metrics", run, "--json", "--csv"])
            #expect(both.status != 0 && both.stderr.contains("choose one of --json and --csv"), "\(both.stderr)")
        }
    }
}
