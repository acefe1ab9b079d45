import Foundation
import TestKit
import Testing

/// Workers authenticate with CURVE: only allowed keys get work, revoking a key drops its workers at
/// once, and keys and start-up flags are handled safely. Real processes throughout.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WorkerAuthenticationTests {
    @Test func aWorkerWhoseKeyIsNotAllowedNeverGetsAStep() async throws {
        try await withCluster(workers: 0) { cluster in
            let stranger = try await cluster.addWorker(name: "stranger", allowKey: false)
            let work = try ProcessHarness.temporaryDirectory()
            let marker = work + "/ran"
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                jobs:
                  only:
                    command: touch \(marker)
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try await Task.sleep(for: .seconds(3))

            #expect(!FileManager.default.fileExists(atPath: marker), "a worker with an unknown key ran a step")
            let status = try await cluster.cli(["status", run, "--json"])
            let step = try #require((try status.json()["steps"] as? [[String: Any]])?.first)
            #expect(step["status"] as? String == "queued", "\(status.stdout)")
            #expect(step["worker"] == nil || step["worker"] is NSNull, "\(status.stdout)")
            let workers = try await cluster.cli(["workers", "--json"])
            #expect(!workers.stdout.contains("stranger"), "the stranger registered: \(workers.stdout)")
            #expect(stranger.process.isRunning, "a refused worker keeps trying rather than crash:\n\(stranger.text)")
            // Both sides say why, once: the worker's key is not allowed.
            let told = stranger.text.components(separatedBy: "refused this worker's key").count - 1
            #expect(told == 1, "the refused worker must say why, once:\n\(stranger.text)")
            let logged = cluster.coordinator.text.components(separatedBy: "refused a worker's handshake").count - 1
            #expect(logged == 1, "the coordinator must log the refused key once:\n\(cluster.coordinator.text)")
            let strangerKey = try String(contentsOfFile: cluster.keyDirectory + "/stranger.public", encoding: .utf8)
            #expect(cluster.coordinator.text.contains(strangerKey.trimmingCharacters(in: .whitespacesAndNewlines)))

            let canceled = try await cluster.cli(["cancel", run])
            #expect(canceled.status == 0 && canceled.stdout.contains("canceled"), "\(canceled.stderr)")
        }
    }

    @Test func aWorkerAllowedAfterItStartedGetsIn() async throws {
        try await withCluster(workers: 0) { cluster in
            let late = try await cluster.addWorker(name: "late", allowKey: false)
            try await Task.sleep(for: .seconds(1))
            let allowed = try await cluster.cli(["workers", "allow", cluster.keyDirectory + "/late.public", "--name", "late"])
            #expect(allowed.status == 0, "\(allowed.stderr)")
            // Refused handshakes are retried every second; the worker says hello again within its 10 s silence limit.
            let registered = await late.waitForOutput(containing: "registered with the coordinator", timeout: .seconds(20))
            #expect(registered != nil, "the worker did not get in after its key was allowed:\n\(late.text)")
        }
    }

    @Test func revokingARunningWorkersKeyDropsItAtOnceAndItsStepRunsElsewhere() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let marker = work + "/started"
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                outputs:
                  said: {type: uri_file}
                jobs:
                  slow:
                    command: echo $CONDUIT_ATTEMPT_ID >> \(marker); while [ ! -e \(work)/release ]; do sleep 0.05; done; echo finished > ${{outputs.said}}
                    outputs:
                      said: ${{parent.outputs.said}}
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try await waitForFile(marker)
            try await cluster.addWorker(name: "worker2")

            let started = ContinuousClock.now
            let revoked = try await cluster.cli(["workers", "revoke", "worker1"])
            #expect(revoked.status == 0, "\(revoked.stderr)")
            #expect(revoked.stdout.contains("dropped worker1"), "\(revoked.stdout)")
            var gone = false
            while ContinuousClock.now - started < .seconds(1) {
                let workers = try await cluster.cli(["workers", "--json"])
                let list = try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]] ?? []
                if list.contains(where: { $0["id"] as? String == "worker1" && $0["connected"] as? Bool == false }) {
                    gone = true
                    break
                }
            }
            #expect(gone, "worker1 was still connected a second after its key was revoked")
            // Only now may the step finish (however long worker2 took to start): it must run again there.
            #expect(FileManager.default.createFile(atPath: work + "/release", contents: nil))

            let finished = try await waitForEnd(of: run, in: cluster)
            #expect(finished["status"] as? String == "completed", "\(finished)")
            let step = try #require((finished["steps"] as? [[String: Any]])?.first)
            #expect(step["worker"] as? String == "worker2", "\(step)")
            #expect(step["attempts"] as? Int == 2, "\(step)")
            let attempts = (try? String(contentsOfFile: marker, encoding: .utf8))?.split(separator: "\n") ?? []
            #expect(attempts.count == 2, "the step should have started once on each worker: \(attempts)")

            // The revoked worker was told to stop, and its key stays revoked.
            let worker1 = try #require(cluster.workers.first)
            #expect(await worker1.waitForExit(timeout: .seconds(10)) != nil, "the revoked worker kept running")
            #expect(worker1.text.contains("revoked"), "\(worker1.text)")
            let keys = try await cluster.cli(["workers", "keys", "--json"])
            let list = try JSONSerialization.jsonObject(with: Data(keys.stdout.utf8)) as? [[String: Any]] ?? []
            let entry = try #require(list.first { $0["name"] as? String == "worker1" })
            #expect(entry["revokedAt"] is NSNumber, "\(entry)")
        }
    }

    @Test func keyFilesAndStartUpRefusals() async throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.directory) }
        try await cluster.generateKeys(name: "head")
        let secret = cluster.keyDirectory + "/head.secret"
        let attributes = try FileManager.default.attributesOfItem(atPath: secret)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let publicKey = try String(contentsOfFile: cluster.keyDirectory + "/head.public", encoding: .utf8)
        #expect(publicKey.trimmingCharacters(in: .whitespacesAndNewlines).count == 40)
        let again = try await cluster.cli(["keys", "generate", "--name", "head", "--dir", cluster.keyDirectory])
        #expect(again.status != 0 && again.stderr.contains("already exists"), "\(again.stderr)")

        let data = cluster.directory + "/data"
        let neither = try await cluster.cli(["coordinator", "--data-dir", data, "--http", "127.0.0.1:0"], timeout: .seconds(20))
        #expect(neither.status != 0)
        #expect(neither.stderr.contains("--secret-key") && neither.stderr.contains("--plaintext"), "\(neither.stderr)")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secret)
        let readable = try await cluster.cli(
            ["coordinator", "--data-dir", data, "--http", "127.0.0.1:0", "--listen", "tcp://127.0.0.1:*", "--secret-key", secret],
            timeout: .seconds(20))
        #expect(readable.status != 0)
        #expect(readable.stderr.contains("chmod 600"), "\(readable.stderr)")

        let both = try await cluster.cli(["coordinator", "--data-dir", data, "--plaintext", "--secret-key", secret], timeout: .seconds(20))
        #expect(both.status != 0, "\(both.stderr)")
        let workerWithout = try await cluster.cli(["worker", "--coordinator", "tcp://127.0.0.1:1"], timeout: .seconds(20))
        #expect(workerWithout.status != 0 && workerWithout.stderr.contains("--coordinator-key"), "\(workerWithout.stderr)")

        // Plain text only when asked for, and loudly.
        let plain = try ChildHandle(
            name: "plaintext", executable: cluster.executable,
            arguments: ["coordinator", "--data-dir", data, "--http", "127.0.0.1:0", "--listen", "tcp://127.0.0.1:*", "--plaintext"])
        let output = await plain.waitForOutput(containing: "clients on http://", timeout: .seconds(30))
        await plain.stop()
        #expect(output?.contains("WARNING: --plaintext") == true, "\(plain.text)")
    }
}

/// Waits for `run` to end (at most a minute) and returns its `status --json` summary.
private func waitForEnd(of run: String, in cluster: Cluster) async throws -> [String: Any] {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        let summary = try await cluster.cli(["status", run, "--json"]).json()
        if let status = summary["status"] as? String, !["queued", "running"].contains(status) { return summary }
        try await Task.sleep(for: .milliseconds(200))
    }
    throw HarnessError("run \(run) did not end within a minute")
}
