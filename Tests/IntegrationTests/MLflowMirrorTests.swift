import Foundation
import TestKit
import Testing

/// The mirror to a user's own MLflow server (`mlflow: {tracking_uri: ...}` in the coordinator's
/// `--config`), against a real `mlflow server` on loopback (MLflow 3, from `scripts/mlflow-venvs.sh`)
/// and a real coordinator and worker: each attempt becomes one MLflow run with its history, params
/// and tags; a server that is down never fails a step, and what it missed arrives once it is up.
@Suite(.serialized, .timeLimit(.minutes(20)))
struct MLflowMirrorTests {
    /// A step that logs with MLflow: a param, a tag, `loss` over 5 steps.
    static let train = """
        import mlflow
        with mlflow.start_run():
            mlflow.log_param("C", 0.5)
            mlflow.set_tag("team", "vision")
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        """

    @Test func eachAttemptIsMirroredOnceWithItsHistoryParamsAndTags() async throws {
        let python = try MLflowTrackingTests.python(major: 3)
        let server = try MLflowServer(python: python)
        defer { server.stop() }
        try await server.waitUntilUp()
        try await withMirroringCluster(to: server) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: work + "/src", withIntermediateDirectories: true)
            try Self.train.write(toFile: work + "/src/train.py", atomically: true, encoding: .utf8)
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                experiment_name: mirror-check
                jobs:
                  train:
                    code: ./src
                    command: \(python) train.py
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = try #require(try submitted.json()["run"] as? String)

            let mirrored = try await server.waitForEndedRuns(experiment: "mirror-check", conduitRun: run, count: 1)
            let info = try #require(mirrored.first?["info"] as? [String: Any])
            #expect(info["status"] as? String == "FINISHED", "\(info)")
            let data = try #require(mirrored.first?["data"] as? [String: Any])
            let tags = Self.pairs(data["tags"])
            #expect(tags["conduit.run"] == run && tags["conduit.step"] == "train" && tags["conduit.attempt"] == "1", "\(tags)")
            #expect(tags["team"] == "vision" && tags["mlflow.runName"] == "train (attempt 1)", "\(tags)")
            #expect(Self.pairs(data["params"]) == ["C": "0.5"], "\(data)")

            // The history is the one Conduit keeps: every value, with its step and time.
            let runID = try #require(info["run_id"] as? String)
            let history = try server.metricHistory(runID: runID, key: "loss")
            let kept = try await cluster.cli(["metrics", run, "--json"])
            let points = (try kept.json()["points"] as? [[String: Any]] ?? []).filter { $0["key"] as? String == "loss" }
            #expect(history.count == 5, "\(history)")
            let steps: [Int?] = history.map { $0["step"] as? Int }
            #expect(steps == [0, 1, 2, 3, 4], "\(history)")
            let mirroredTimes: [Int64] = history.map { ($0["timestamp"] as? Int64) ?? 0 }
            let keptTimes: [Int64] = points.map { ($0["timestamp"] as? Int64) ?? -1 }
            #expect(mirroredTimes == keptTimes, "\(history) \(points)")
            let values: [Double] = history.map { $0["value"] as? Double ?? .nan }
            let expected: [Double] = (0..<5).map { 1.0 / Double($0 + 1) }
            #expect(values.count == 5 && zip(values, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(values)")
            let health = try await cluster.waitForMirror(state: "up_to_date")
            #expect(health["state"] as? String == "up_to_date" && health["attemptsBehind"] as? Int == 0, "\(health)")
            // Values go as they arrive (one call or more, as the step's writes reach the store), params
            // and tags in a call of their own.
            let batches = server.requests("runs/log-batch")
            #expect(batches >= 2 && server.requests("runs/create") == 1, "\(batches) log-batch calls")

            // After a restart the mirror goes on from what it remembered: it sends nothing again, a
            // second run's attempt is mirrored, and the first run has still one MLflow run with its 5 values.
            try await cluster.restartCoordinator()
            _ = try await cluster.waitForMirror(state: "up_to_date")
            // The server drops a metric value sent twice, so count the calls.
            #expect(server.requests("runs/log-batch") == batches, "nothing sent again after the restart")
            let again = try await cluster.cli(["submit", pipeline, "--force", "train", "--wait", "--json"])
            #expect(again.status == 0, "\(again.stderr)")
            let second = try #require(try again.json()["run"] as? String)
            _ = try await server.waitForEndedRuns(experiment: "mirror-check", conduitRun: second, count: 1)
            let first = try server.runs(experiment: "mirror-check", conduitRun: run)
            #expect(first.count == 1, "one MLflow run per attempt: \(first)")
            #expect(try server.metricHistory(runID: runID, key: "loss").count == 5)
            _ = try await cluster.waitForMirror(state: "up_to_date")
            #expect(server.requests("runs/log-batch") > batches && server.requests("runs/create") == 2, "\(server.process.text.suffix(3000))")
        }
    }

    @Test func aServerDownAtFirstNeverFailsAStepAndGetsTheRunOnceUp() async throws {
        let python = try MLflowTrackingTests.python(major: 3)
        let port = try LoopbackPort.unusedBelowEphemeralRange()
        let uri = "http://127.0.0.1:\(port)"
        try await withMirroringCluster(to: uri) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  count:
                    command: |
                      for i in 1 2 3; do echo "{\\"name\\": \\"n\\", \\"value\\": $i, \\"step\\": $i}" >> "$CONDUIT_METRICS_FILE"; done
                """, named: "pipeline.yml", in: work)
            let submitted = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(submitted.status == 0, "the step succeeds with the server down: \(submitted.stderr)")
            let run = try #require(try submitted.json()["run"] as? String)
            #expect(try submitted.json()["status"] as? String == "completed")

            // Behind, and saying so: in the log once, and in /v1/health.
            let health = try await cluster.waitForMirror(state: "behind")
            #expect(health["state"] as? String == "behind" && (health["attemptsBehind"] as? Int ?? 0) >= 1, "\(health)")
            #expect((health["lastError"] as? String ?? "").contains("cannot reach the MLflow server at \(uri)"), "\(health)")
            #expect(await cluster.coordinator.waitForOutput(containing: "MLflow mirror is behind", timeout: .seconds(10)) != nil)

            // Up: the run appears, in the experiment named after the pipeline file's folder.
            let server = try MLflowServer(python: python, port: port)
            defer { server.stop() }
            try await server.waitUntilUp()
            let experiment = (work as NSString).lastPathComponent
            let mirrored = try await server.waitForEndedRuns(experiment: experiment, conduitRun: run, count: 1)
            let info = try #require(mirrored.first?["info"] as? [String: Any])
            #expect(info["status"] as? String == "FINISHED", "\(info)")
            let history = try server.metricHistory(runID: try #require(info["run_id"] as? String), key: "n")
            let values: [Double?] = history.map { $0["value"] as? Double }
            let steps: [Int?] = history.map { $0["step"] as? Int }
            #expect(values == [1, 2, 3] && steps == [1, 2, 3], "\(history)")
            #expect(cluster.coordinator.text.components(separatedBy: "MLflow mirror is behind").count == 2, "said once per outage")
            let caughtUp = try await cluster.waitForMirror(state: "up_to_date")
            #expect(caughtUp["behindSince"] == nil && caughtUp["attemptsBehind"] as? Int == 0, "\(caughtUp)")
        }
    }

    /// `[{key, value}]` as a dictionary.
    static func pairs(_ list: Any?) -> [String: String] {
        var result: [String: String] = [:]
        for item in list as? [[String: Any]] ?? [] {
            if let key = item["key"] as? String, let value = item["value"] as? String { result[key] = value }
        }
        return result
    }
}

/// A coordinator whose `--config` mirrors to `server`, and one worker.
func withMirroringCluster(to server: MLflowServer, _ body: (Cluster) async throws -> Void) async throws {
    try await withMirroringCluster(to: server.uri, body)
}

func withMirroringCluster(to uri: String, _ body: (Cluster) async throws -> Void) async throws {
    let cluster = try Cluster()
    let config = cluster.directory + "/conduit.yml"
    try "mlflow: {tracking_uri: \(uri)}\n".write(toFile: config, atomically: true, encoding: .utf8)
    cluster.coordinatorOptions = ["--config", config]
    do {
        try await cluster.start(workers: 1)
        try await body(cluster)
    } catch {
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}

extension Cluster {
    /// `mlflowMirror` of `GET /v1/health`.
    func health() async throws -> [String: Any] {
        let answer = try MLflowServer.request(python: try MLflowTrackingTests.python(major: 3), url: httpURL + "/v1/health")
        return answer["mlflowMirror"] as? [String: Any] ?? [:]
    }

    /// Waits (at most a minute) until the mirror's `state` is `state`; its last status.
    func waitForMirror(state: String) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(60)
        var health = try await health()
        while health["state"] as? String != state, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            health = try await self.health()
        }
        return health
    }
}

/// A real `mlflow server` on loopback with a SQLite store in a temporary directory.
struct MLflowServer {
    let python: String
    let uri: String
    let process: ChildHandle
    let directory: String

    init(python: String, port: Int? = nil) throws {
        directory = try ProcessHarness.temporaryDirectory("conduit-mlflow")
        let port = try port ?? LoopbackPort.unusedBelowEphemeralRange()
        self.python = python
        uri = "http://127.0.0.1:\(port)"
        // A child started by `Process` leads a process group of its own, which the web server's
        // worker processes join: `stop()` kills the group.
        process = try ChildHandle(
            name: "mlflow", executable: python,
            arguments: [
                "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", "\(port)", "--workers", "1",
                "--backend-store-uri", "sqlite:///\(directory)/mlflow.db", "--default-artifact-root", directory + "/artifacts",
            ])
    }

    /// Kills the server and every process it started.
    func stop() {
        let group = process.process.processIdentifier
        if group > 0 { _ = kill(-group, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// How many calls to `/api/2.0/mlflow/ROUTE` the server answered, by its access log.
    func requests(_ route: String) -> Int {
        process.text.components(separatedBy: "/api/2.0/mlflow/\(route) HTTP").count - 1
    }

    /// Waits until the server answers (it creates its database first: minutes on a busy machine).
    func waitUntilUp() async throws {
        let deadline = ContinuousClock.now + .seconds(480)
        while (try? Self.request(python: python, url: uri + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default")) == nil {
            guard process.process.isRunning, ContinuousClock.now < deadline else {
                throw HarnessError("mlflow server did not start at \(uri):\n\(process.text.suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The MLflow runs of `experiment` tagged with Conduit run `conduitRun` (none when there is no
    /// such experiment).
    func runs(experiment: String, conduitRun: String) throws -> [[String: Any]] {
        let name = experiment.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? experiment
        guard let found = try? Self.request(python: python, url: uri + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=\(name)"),
              let id = (found["experiment"] as? [String: Any])?["experiment_id"] as? String else { return [] }
        let body = #"{"experiment_ids": ["\#(id)"], "filter": "tags.`conduit.run` = '\#(conduitRun)'", "max_results": 100}"#
        return try Self.request(python: python, url: uri + "/api/2.0/mlflow/runs/search", body: body)["runs"] as? [[String: Any]] ?? []
    }

    /// Waits until `count` runs of `conduitRun` have ended, and returns them.
    func waitForEndedRuns(experiment: String, conduitRun: String, count: Int) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let found = try runs(experiment: experiment, conduitRun: conduitRun)
            let ended = found.filter { ($0["info"] as? [String: Any])?["status"] as? String != "RUNNING" }
            if ended.count >= count { return found }
            guard ContinuousClock.now < deadline else {
                throw HarnessError("the MLflow server at \(uri) has no ended run of \(conduitRun) in \(experiment) after 120 s: \(found)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Every value of metric `key` of MLflow run `runID`.
    func metricHistory(runID: String, key: String) throws -> [[String: Any]] {
        let answer = try Self.request(python: python, url: uri + "/api/2.0/mlflow/metrics/get-history?run_id=\(runID)&metric_key=\(key)")
        return (answer["metrics"] as? [[String: Any]] ?? []).sorted { ($0["step"] as? Int ?? 0) < ($1["step"] as? Int ?? 0) }
    }

    /// A GET (or, with `body`, a JSON POST) through Python's standard library; the JSON object answered.
    static func request(python: String, url: String, body: String? = nil) throws -> [String: Any] {
        let script = """
            import sys, urllib.request
            data = sys.argv[2].encode() if len(sys.argv) > 2 else None
            request = urllib.request.Request(sys.argv[1], data=data, headers={"Content-Type": "application/json"})
            print(urllib.request.urlopen(request, timeout=10).read().decode())
            """
        let result = try MLflowTrackingTests.run(python, ["-c", script, url] + (body.map { [$0] } ?? []))
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("\(url) did not answer: \(result.stderr.suffix(500))")
        }
        return object
    }
}
