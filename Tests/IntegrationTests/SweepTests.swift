import Foundation
import TestKit
import Testing

/// `type: sweep` nodes run by a real coordinator and real workers: trials are steps, reused by
/// content; `max_concurrent_trials` holds; the best trial's outputs flow downstream; an early
/// termination policy stops a trial that lags.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SweepTests {
    /// A trial component: scores `1 - |rate - 0.2| - 0.01 * layers`, logs it, writes a model, and
    /// appends its start and end times to `LOG` (to measure how many trials overlapped).
    static func project(in work: String) throws {
        try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
        let trial = """
            $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
            type: command
            name: sweep_trial
            inputs:
              rate: {type: number, default: 0.1}
              layers: {type: integer, default: 1}
              pause: {type: number, default: 0}
            outputs:
              model: {type: uri_folder}
            code: ./src
            command: python3 train.py --rate ${{inputs.rate}} --layers ${{inputs.layers}} --pause ${{inputs.pause}} --out ${{outputs.model}}
            """
        try trial.write(toFile: work + "/trial.yml", atomically: true, encoding: .utf8)
        let script = """
            import argparse, json, os, time
            parser = argparse.ArgumentParser()
            parser.add_argument("--rate", type=float)
            parser.add_argument("--layers", type=int)
            parser.add_argument("--pause", type=float)
            parser.add_argument("--out")
            args = parser.parse_args()
            with open("\(work)/trials.log", "a") as log:
                log.write(f"start {time.time()}\\n")
            time.sleep(args.pause)
            score = 1.0 - abs(args.rate - 0.2) - 0.01 * args.layers
            with open(os.environ["CONDUIT_METRICS_FILE"], "a") as metrics:
                metrics.write(json.dumps({"name": "accuracy", "value": score}) + "\\n")
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "model.txt"), "w") as model:
                model.write(f"rate={args.rate} layers={args.layers}\\n")
            with open("\(work)/trials.log", "a") as log:
                log.write(f"end {time.time()}\\n")
            """
        try script.write(toFile: work + "/src/train.py", atomically: true, encoding: .utf8)
    }

    static func pipeline(sampling: String, space: String, limits: String, extra: String = "", pause: Double = 0) -> String {
        """
        type: pipeline
        display_name: sweep-test
        jobs:
          tune:
            type: sweep
            trial: ./trial.yml
            inputs:
              pause: \(pause)
            search_space:
        \(space)
            sampling_algorithm: \(sampling)
            objective:
              goal: maximize
              primary_metric: accuracy
            limits:
        \(limits)
        \(extra)
          report:
            type: command
            inputs:
              model: ${{parent.jobs.tune.outputs.model}}
            outputs:
              copy: {type: uri_folder}
            command: cp ${{inputs.model}}/model.txt ${{outputs.copy}}/best.txt
        """
    }

    static let gridSpace = """
              rate: {type: choice, values: [0.1, 0.2, 0.3]}
              layers: {type: choice, values: [1, 2]}
        """

    func steps(_ result: CLIResult) throws -> [String: [String: Any]] {
        let steps = try result.json()["steps"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: steps.map { ($0["name"] as? String ?? "", $0) })
    }

    /// A cluster of `workers` workers with `slots` each, its coordinator started under `launcher`,
    /// shut down however `body` ends.
    func withCluster(workers: Int, slots: Int = 1, launcher: [String] = [], _ body: (Cluster) async throws -> Void) async throws {
        let cluster = try Cluster()
        cluster.coordinatorLauncher = launcher
        do {
            try await cluster.start(workers: workers, slots: slots)
            try await body(cluster)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func aGridSweepPicksTheBestTrialAndASecondRunReRunsNothing() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try Self.project(in: work)
            let file = try Fixtures.pipeline(
                Self.pipeline(sampling: "grid", space: Self.gridSpace, limits: "      max_total_trials: 20"), in: work
            )
            let first = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
            let run1 = try steps(first)
            let trials = run1.keys.filter { $0.hasPrefix("tune/trial_") }
            #expect(trials.count == 6, "\(run1.keys.sorted())")
            #expect(trials.allSatisfy { run1[$0]?["status"] as? String == "completed" && run1[$0]?["reused"] as? Bool == false })
            #expect(run1["tune"]?["status"] as? String == "completed")
            let reason = run1["tune"]?["reason"] as? String ?? ""
            #expect(reason.contains("with accuracy 0.99") && reason.contains("6 of 6 trials completed"), "\(reason)")
            // The best trial (rate 0.2, one layer) is what the downstream step read.
            let runID = try #require(try first.json()["run"] as? String)
            let download = work + "/best"
            let fetched = try await cluster.cli(["download", runID, "report.copy", download])
            #expect(fetched.status == 0, "\(fetched.stderr)")
            let best = try String(contentsOfFile: download + "/copy/best.txt", encoding: .utf8)
            #expect(best == "rate=0.2 layers=1\n", "\(best)")

            // Run again: every trial is reused, the sweep chooses the same trial, nothing runs.
            let second = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let run2 = try steps(second)
            for trial in trials { #expect(run2[trial]?["reused"] as? Bool == true, "\(trial): \(run2[trial] ?? [:])") }
            #expect(run2["report"]?["reused"] as? Bool == true)
            #expect((run2["tune"]?["reason"] as? String)?.contains("with accuracy 0.99") == true)

            // Widen the grid: only the new points run.
            let wider = Self.gridSpace.replacingOccurrences(of: "[0.1, 0.2, 0.3]", with: "[0.1, 0.2, 0.3, 0.4]")
            let widened = try Fixtures.pipeline(
                Self.pipeline(sampling: "grid", space: wider, limits: "      max_total_trials: 20"), named: "wider.yml", in: work
            )
            let dry = try await cluster.cli(["submit", widened, "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdout.contains("8 trials (grid): 6 already known, 2 would run"), "\(dry.stdout)")
            let third = try await cluster.cli(["submit", widened, "--wait", "--json"])
            #expect(third.status == 0, "\(third.stderr)")
            let run3 = try steps(third)
            let ran = run3.filter { $0.key.hasPrefix("tune/trial_") && $0.value["reused"] as? Bool == false }.map(\.key)
            #expect(ran.count == 2, "\(ran)")
        }
    }

    @Test func aSeededRandomSweepRunsAtMostTwoTrialsAtOnceOnTwoWorkers() async throws {
        try await withCluster(workers: 2, slots: 2) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try Self.project(in: work)
            let space = """
                      rate: {type: uniform, min_value: 0.05, max_value: 0.35}
                      layers: {type: randint, upper: 4}
                """
            let file = try Fixtures.pipeline(
                Self.pipeline(
                    sampling: "{type: random, seed: 7}", space: space,
                    limits: "      max_total_trials: 6\n      max_concurrent_trials: 2", pause: 1.0
                ),
                in: work
            )
            let result = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
            let run = try steps(result)
            let trials = run.filter { $0.key.hasPrefix("tune/trial_") }
            #expect(trials.count == 6)
            #expect(Set(trials.values.compactMap { $0["worker"] as? String }) == ["worker1", "worker2"], "\(trials)")
            // Never more than two trials at once, though the workers had four slots.
            let log = try String(contentsOfFile: work + "/trials.log", encoding: .utf8)
            var events: [(Double, Int)] = []
            for line in log.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let time = Double(parts[1]) else { continue }
                events.append((time, parts[0] == "start" ? 1 : -1))
            }
            events.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var running = 0
            var most = 0
            for event in events {
                running += event.1
                most = max(most, running)
            }
            #expect(events.count == 12, "\(log)")
            #expect(most == 2, "at most \(most) trials overlapped:\n\(log)")

            // The same seed draws the same points: the second run reuses every trial.
            let again = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(again.status == 0, "\(again.stderr)")
            let rerun = try steps(again)
            #expect(rerun.filter { $0.key.hasPrefix("tune/trial_") }.allSatisfy { $0.value["reused"] as? Bool == true }, "\(rerun)")
        }
    }

    @Test func aBanditPolicyStopsATrialWhoseMetricLags() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
            // Reports five values; a good trial ends, a poor one waits long after its first value.
            let script = """
                import json, os, sys, time
                quality = float(sys.argv[1])
                for interval in range(5):
                    with open(os.environ["CONDUIT_METRICS_FILE"], "a") as metrics:
                        metrics.write(json.dumps({"name": "accuracy", "value": quality}) + "\\n")
                    time.sleep(0.3 if quality > 0.5 else 60)
                os.makedirs(sys.argv[2], exist_ok=True)
                """
            try script.write(toFile: work + "/src/train.py", atomically: true, encoding: .utf8)
            let pipeline = """
                type: pipeline
                jobs:
                  tune:
                    type: sweep
                    trial:
                      type: command
                      inputs:
                        quality: {type: number}
                      outputs:
                        model: {type: uri_folder}
                      code: ./src
                      command: python3 train.py ${{inputs.quality}} ${{outputs.model}}
                    search_space:
                      quality: {type: choice, values: [0.9, 0.2]}
                    sampling_algorithm: grid
                    objective: {goal: maximize, primary_metric: accuracy}
                    limits: {max_total_trials: 2, max_concurrent_trials: 1}
                    early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1}
                """
            let file = try Fixtures.pipeline(pipeline, in: work)
            let result = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
            let run = try steps(result)
            #expect(run["tune/trial_0"]?["status"] as? String == "completed")
            #expect(run["tune/trial_1"]?["status"] as? String == "canceled", "\(run["tune/trial_1"] ?? [:])")
            let stopped = run["tune/trial_1"]?["reason"] as? String ?? ""
            #expect(stopped.contains("stopped early by the bandit policy at interval 1"), "\(stopped)")
            #expect((run["tune"]?["reason"] as? String)?.contains("1 stopped early") == true)
            let runID = try #require(try result.json()["run"] as? String)
            let status = try await cluster.cli(["status", runID])
            #expect(status.stdout.contains("stopped early by the bandit policy"), "\(status.stdout)")
        }
    }

    /// The Python of the MLflow 3.x test environment, which also has Optuna (`scripts/mlflow-venvs.sh`).
    static func optunaPython() throws -> String {
        let root = ProcessHarness.packageRoot()
        let path = ProcessInfo.processInfo.environment["CONDUIT_MLFLOW3_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? root + "/.build/mlflow3-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("no Python with Optuna at \(path): install it with `bash scripts/mlflow-venvs.sh` (.ci/run does)")
        }
        return path
    }

    static func bayesianPipeline(python: String) -> String {
        """
        type: pipeline
        jobs:
          tune:
            type: sweep
            trial:
              type: command
              inputs:
                x: {type: number}
                kind: {type: string}
              outputs:
                model: {type: uri_folder}
              code: ./src
              command: \(python) train.py ${{inputs.x}} ${{inputs.kind}} ${{outputs.model}}
            search_space:
              x: {type: uniform, min_value: 0, max_value: 1}
              kind: {type: choice, values: [plain, fancy]}
            sampling_algorithm: {type: bayesian, seed: 5}
            objective: {goal: minimize, primary_metric: loss}
            limits: {max_total_trials: 4, max_concurrent_trials: 1}
        """
    }

    @Test func aBayesianSweepAsksOptunaForEachPointAndIsReusedWithTheSameSeed() async throws {
        let python = try Self.optunaPython()
        try await withCluster(workers: 1, slots: 1, launcher: ["/usr/bin/env", "CONDUIT_OPTIMIZER_PYTHON=" + python]) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
            // The objective goes through MLflow, as Azure ML trials report it.
            let script = """
                import os, sys
                import mlflow
                x, kind = float(sys.argv[1]), sys.argv[2]
                loss = (x - 0.3) ** 2 + (0.0 if kind == "fancy" else 0.05)
                mlflow.log_metric("loss", loss)
                os.makedirs(sys.argv[3], exist_ok=True)
                open(os.path.join(sys.argv[3], "point.txt"), "w").write(f"{x} {kind}")
                """
            try script.write(toFile: work + "/src/train.py", atomically: true, encoding: .utf8)
            let file = try Fixtures.pipeline(Self.bayesianPipeline(python: python), in: work)
            let first = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
            let run = try steps(first)
            let trials = run.filter { $0.key.hasPrefix("tune/trial_") }
            #expect(trials.count == 4 && trials.values.allSatisfy { $0["status"] as? String == "completed" }, "\(trials)")
            let reason = run["tune"]?["reason"] as? String ?? ""
            #expect(reason.contains("best: trial_") && reason.contains("4 of 4 trials completed"), "\(reason)")
            // Each trial ran the point the optimiser chose: four different points.
            let runID = try #require(try first.json()["run"] as? String)
            var points: Set<String> = []
            for name in trials.keys {
                let folder = work + "/out-" + name.replacingOccurrences(of: "/", with: "-")
                let fetched = try await cluster.cli(["download", runID, name + ".model", folder])
                #expect(fetched.status == 0, "\(fetched.stderr)")
                points.insert(try String(contentsOfFile: folder + "/model/point.txt", encoding: .utf8))
            }
            #expect(points.count == 4, "\(points)")

            // The same seed and the same results give the same proposals: every trial is reused.
            let second = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let again = try steps(second)
            #expect(again.filter { $0.key.hasPrefix("tune/trial_") }.allSatisfy { $0.value["reused"] as? Bool == true }, "\(again)")
        }
    }

    @Test func aBayesianSweepIsRefusedWhereOptunaIsMissing() async throws {
        // The system Python, which has no Optuna.
        try await withCluster(workers: 0, slots: 1, launcher: ["/usr/bin/env", "CONDUIT_OPTIMIZER_PYTHON=/usr/bin/python3"]) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
            let file = try Fixtures.pipeline(Self.bayesianPipeline(python: "python3"), in: work)
            let result = try await cluster.cli(["submit", file])
            #expect(result.status != 0)
            #expect(result.stderr.contains("/usr/bin/python3 -m pip install optuna"), "\(result.stderr)")
            #expect(result.stderr.contains("sweep step tune"), "\(result.stderr)")
        }
    }
}
