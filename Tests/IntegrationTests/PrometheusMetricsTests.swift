import Foundation
import TestKit
import Testing

/// `GET /metrics` scraped from a real coordinator with a real worker, and parsed by the Prometheus
/// project's own text-format parser (`prometheus_client`, in the MLflow 3 virtual environment that
/// `scripts/mlflow-venvs.sh` installs, or at `$CONDUIT_PROMETHEUS_PYTHON`); and `--log-format json`.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PrometheusMetricsTests {
    /// One sample of a scrape: metric name with its suffix (`_total`, `_bucket`, `_count`…), labels, value.
    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// What a scrape answered: the HTTP status and, for 200, the parsed samples.
    struct Scrape: Decodable {
        var status: Int
        var samples: [Sample]?
        var contentType: String?

        /// The value of the sample `name` whose labels include `labels`; nil when none has them.
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples?.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
    }

    /// Fetches `url` (with `Authorization: Bearer TOKEN` when given) and parses the body with
    /// `prometheus_client.parser.text_string_to_metric_families`, which rejects malformed text.
    static let scraper = """
        import json, sys, urllib.request, urllib.error
        from prometheus_client.parser import text_string_to_metric_families
        url, token = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
        request = urllib.request.Request(url)
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                text = response.read().decode("utf-8")
                kind = response.headers.get("Content-Type")
        except urllib.error.HTTPError as error:
            print(json.dumps({"status": error.code}))
            sys.exit(0)
        samples = [{"name": s.name, "labels": s.labels, "value": s.value}
                   for family in text_string_to_metric_families(text) for s in family.samples]
        print(json.dumps({"status": 200, "samples": samples, "contentType": kind}))
        """

    /// The interpreter with `prometheus_client`.
    static func python() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let path = environment["CONDUIT_PROMETHEUS_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ProcessHarness.packageRoot() + "/.build/mlflow3-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("no Python with prometheus_client at \(path): run `bash scripts/mlflow-venvs.sh` (`make setup` and .ci/run do)")
        }
        return path
    }

    /// Scrapes `url` through ``scraper``.
    static func scrape(_ url: String, token: String? = nil) throws -> Scrape {
        let directory = try ProcessHarness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/scrape.py"
        try scraper.write(toFile: script, atomically: true, encoding: .utf8)
        let result = try MLflowTrackingTests.run(try python(), [script, url] + (token.map { [$0] } ?? []))
        guard result.status == 0 else { throw HarnessError("the scrape of \(url) failed:\n\(result.stderr)") }
        return try JSONDecoder().decode(Scrape.self, from: Data(result.stdout.utf8))
    }

    /// Scrapes until `done` holds for the answer (the run's end is recorded just after the CLI
    /// sees it), at most `timeout`; returns the last scrape.
    static func scrape(_ url: String, until done: (Scrape) -> Bool, timeout: Duration = .seconds(20)) async throws -> Scrape {
        let deadline = ContinuousClock.now + timeout
        var last = try scrape(url)
        while !done(last), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            last = try scrape(url)
        }
        return last
    }

    @Test func scrapeOfARealRunCountsRunsStepsCacheWorkersAndBytes() async throws {
        let cluster = try Cluster()
        cluster.coordinatorOptions = ["--metrics-listen", "127.0.0.1:0", "--log-format", "json"]
        do {
            try await cluster.start(workers: 0)
            try await cluster.addWorker(name: "worker1", slots: 2, labels: ["cpu"], options: ["--log-format", "json"])
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = try Fixtures.numbersPipeline(in: work)
            // Everything runs, then everything is reused, twice.
            for _ in 1...3 {
                let submitted = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
                #expect(submitted.status == 0, "\(submitted.stderr)")
            }

            let scrape = try await Self.scrape(cluster.httpURL + "/metrics") { $0.value("conduit_runs_total", ["outcome": "completed"]) == 3 }
            #expect(scrape.status == 200)
            #expect(scrape.contentType?.hasPrefix("text/plain; version=0.0.4") == true, "\(scrape.contentType ?? "")")
            #expect(scrape.value("conduit_runs_total", ["outcome": "completed"]) == 3)
            #expect(scrape.value("conduit_steps_total", ["outcome": "completed", "reused": "false"]) == 4)
            #expect(scrape.value("conduit_steps_total", ["outcome": "completed", "reused": "true"]) == 8)
            #expect(scrape.value("conduit_cache_lookups_total", ["result": "miss"]) == 4)
            #expect(scrape.value("conduit_cache_lookups_total", ["result": "hit"]) == 8)
            // The four steps that ran were dispatched once each and timed.
            #expect(scrape.value("conduit_dispatch_latency_seconds_count") == 4)
            #expect(scrape.value("conduit_step_duration_seconds_count", ["outcome": "succeeded"]) == 4)
            #expect((scrape.value("conduit_store_commit_seconds_count") ?? 0) > 0)
            // Outputs were uploaded to the coordinator.
            #expect((scrape.value("conduit_transfer_bytes_total", ["direction": "upload"]) ?? 0) > 0)
            #expect(scrape.value("conduit_transfer_bytes_total", ["direction": "fetch"]) != nil)
            // The worker, idle again, and its label's empty queue.
            #expect(scrape.value("conduit_workers_connected") == 1)
            #expect(scrape.value("conduit_worker_slots", ["name": "worker1", "state": "free"]) == 2)
            #expect(scrape.value("conduit_worker_slots", ["name": "worker1", "state": "leased"]) == 0)
            #expect(scrape.value("conduit_worker_gpus", ["name": "worker1", "state": "free"]) == 0)
            #expect(scrape.value("conduit_queue_depth", ["label": "cpu"]) == 0)
            #expect(scrape.value("conduit_runs_active") == 0)

            // A step no worker can take waits: its label's queue shows it, and how long it has waited.
            let stuck = try Fixtures.pipeline("""
                $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
                type: pipeline
                settings:
                  default_compute: azureml:gpu-cluster
                jobs:
                  wait:
                    command: echo never
                """, named: "stuck.yml", in: work)
            let submitted = try await cluster.cli(["submit", stuck, "--json"])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let waiting = try await Self.scrape(cluster.httpURL + "/metrics") {
                ($0.value("conduit_queue_oldest_waiting_seconds", ["label": "gpu-cluster"]) ?? 0) > 0
            }
            #expect(waiting.value("conduit_queue_depth", ["label": "gpu-cluster"]) == 1)
            #expect((waiting.value("conduit_queue_oldest_waiting_seconds", ["label": "gpu-cluster"]) ?? 0) > 0)
            #expect(waiting.value("conduit_runs_active") == 1)

            // The metrics-only listener answers the same, and nothing else.
            let line = try #require(await cluster.coordinator.waitForOutput(containing: "metrics on http://", timeout: .seconds(10)))
            let metricsURL = String(line[line.range(of: "metrics on ")!.upperBound...].prefix { !$0.isWhitespace })
            let separate = try Self.scrape(metricsURL)
            #expect(separate.status == 200)
            #expect(separate.value("conduit_runs_total", ["outcome": "completed"]) == 3)
            let other = try Self.scrape(metricsURL.replacingOccurrences(of: "/metrics", with: "/v1/runs"))
            #expect(other.status == 404)

            // Both daemons logged one JSON object per line with the five fields.
            for process in [cluster.coordinator!, cluster.workers[0]] {
                let lines = process.text.split(separator: "\n").filter { $0.hasPrefix("{") }
                #expect(lines.count >= 2, "\(process.name): \(process.text.prefix(2000))")
                for line in lines {
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    #expect(object.map { Set($0.keys) } == ["time", "level", "label", "message", "metadata"], "\(line)")
                    #expect(object?["metadata"] is [String: Any], "\(line)")
                }
            }
            let registered = cluster.workers[0].text.split(separator: "\n").first { $0.contains("registered with the coordinator") }
            #expect(registered?.hasPrefix("{\"time\":") == true, "\(registered ?? "")")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func metricsNeedTheTokenOnTheAPIButNotOnTheMetricsListener() async throws {
        let cluster = try Cluster()
        let tokenFile = cluster.directory + "/token"
        let token = "0123456789abcdef0123456789abcdef"
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile, 0o600)
        cluster.coordinatorOptions = ["--http-token-file", tokenFile, "--metrics-listen", "127.0.0.1:0"]
        do {
            try await cluster.start(workers: 0)
            let url = cluster.httpURL + "/metrics"
            #expect(try Self.scrape(url).status == 401)
            #expect(try Self.scrape(url, token: "wrong" + token).status == 401)
            let authorized = try Self.scrape(url, token: token)
            #expect(authorized.status == 200)
            #expect(authorized.value("conduit_workers_connected") == 0)
            let line = try #require(await cluster.coordinator.waitForOutput(containing: "metrics on http://", timeout: .seconds(10)))
            let metricsURL = String(line[line.range(of: "metrics on ")!.upperBound...].prefix { !$0.isWhitespace })
            let separate = try Self.scrape(metricsURL)
            #expect(separate.status == 200)
            #expect(separate.value("conduit_workers_connected") == 0)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}
