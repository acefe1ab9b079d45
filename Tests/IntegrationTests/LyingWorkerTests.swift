import Foundation
import Protocol
import TestKit
import Testing
import Transport
import ZeroMQ

/// A worker whose key is on the allow-list but that lies, attacking a real coordinator over real
/// CURVE connections: it may neither take another worker's name nor claim, finish or fail the
/// attempts dispatched to another key, not even right after the coordinator was killed and restarted.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LyingWorkerTests {
    /// A protocol client speaking for `name`'s key files in the cluster's key directory.
    struct ForgedWorker {
        let loop: ZMQLoop
        let transport: ZMQWorkerTransport
        let inbox: MessageInbox

        init(keys name: String, in cluster: Cluster) async throws {
            let secret = try String(contentsOfFile: cluster.keyDirectory + "/\(name).secret", encoding: .utf8)
            guard let line = secret.split(separator: "\n").first(where: { $0.hasPrefix("secret-key") }),
                  let value = line.split(separator: "=", maxSplits: 1).last else {
                throw HarnessError("no secret-key line in \(name).secret")
            }
            let keys = try ZMQCurveKeyPair(secretKey: ZMQCurveKey(z85: value.trimmingCharacters(in: .whitespaces)))
            let coordinatorText = try String(contentsOfFile: cluster.keyDirectory + "/coordinator.public", encoding: .utf8)
            let coordinatorKey = try ZMQCurveKey(z85: coordinatorText.trimmingCharacters(in: .whitespacesAndNewlines))
            loop = try ZMQLoop()
            transport = try await ZMQWorkerTransport(
                loop: loop, endpoint: cluster.zmqEndpoint, identity: Array("forged-\(name)".utf8),
                security: .curveClient(keys: keys, coordinatorKey: coordinatorKey))
            inbox = MessageInbox(transport.events)
        }

        func send(_ payload: Payload) {
            transport.send(Message(envelope: Envelope(code: payload.code, messageID: 7, senderID: "forged"), payload: payload))
        }

        func close() {
            inbox.stop()
            transport.close()
            loop.shutdown()
        }
    }

    @Test func anAllowedKeyCannotClaimOrFinishAnotherKeysAttemptAcrossACoordinatorRestart() async throws {
        // Leases long enough that the frozen honest worker never fences its own attempt meanwhile.
        let cluster = try Cluster()
        cluster.coordinatorOptions = ["--worker-timeout", "30"]
        do {
            try await cluster.start(workers: 1)
            try await attackAcrossARestart(cluster)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    private func attackAcrossARestart(_ cluster: Cluster) async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let started = work + "/started"
        let release = work + "/release"
        let ran = work + "/ran"
        let pipeline = try Fixtures.pipeline("""
            type: pipeline
            jobs:
              slow:
                command: echo $CONDUIT_ATTEMPT_ID >> \(started); while [ ! -e \(release) ]; do sleep 0.05; done; echo done >> \(ran)
            """, in: work)
        let submitted = try await cluster.cli(["submit", pipeline])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await waitForFile(started)
        let attemptID = try String(contentsOfFile: started, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

        try await cluster.generateKeys(name: "liar")
        let allowed = try await cluster.cli(["workers", "allow", cluster.keyDirectory + "/liar.public", "--name", "liar"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        // The honest worker is frozen, and the coordinator killed and restarted: the attempt is
        // an orphan that nobody holds, which is when the liar names it.
        let honest = try #require(cluster.workers.first)
        honest.signal(SIGSTOP)
        try await cluster.restartCoordinator()
        let liar = try await ForgedWorker(keys: "liar", in: cluster)
        defer { liar.close() }
        let capabilities = WorkerCapabilities(cores: 1, memoryBytes: 1 << 30, slots: 1, labels: [], hostname: "liar")
        liar.send(.hello(Hello(workerName: "liar", capabilities: capabilities, runningAttempts: [attemptID])))
        #expect(try await liar.inbox.first(.code(.welcome)) != nil, "the liar's own key is allowed")
        #expect(try await liar.inbox.first(.cancel(attemptID: attemptID)) != nil, "the claim was not refused")
        liar.send(.attemptFinished(AttemptFinished(attemptID: attemptID, outcome: .succeeded, startedAt: 0, endedAt: 1)))
        let answer = try await liar.inbox.first(.code(.attemptAcknowledged))
        guard case .attemptAcknowledged(let acknowledgement)? = answer?.payload else {
            Issue.record("the liar's report was not answered")
            return
        }
        #expect(!acknowledgement.accepted, "the liar's report on another key's attempt was accepted")
        let during = try await cluster.cli(["status", run, "--json"]).json()
        #expect(during["status"] as? String == "running", "\(during)")

        // The honest worker wakes, re-attaches its own attempt, and finishes it: once.
        honest.signal(SIGCONT)
        FileManager.default.createFile(atPath: release, contents: nil)
        let finished = try await waitForEnd(of: run, in: cluster, timeout: .seconds(60))
        #expect(finished["status"] as? String == "completed", "\(finished)\n\(cluster.coordinator.text)\n\(honest.text)")
        let step = try #require((finished["steps"] as? [[String: Any]])?.first)
        #expect(step["worker"] as? String == "worker1", "\(step)")
        #expect(step["attempts"] as? Int == 1, "the step ran again: \(step)\n\(cluster.coordinator.text)\n\(honest.text)")
        let runs = try String(contentsOfFile: ran, encoding: .utf8).split(separator: "\n")
        #expect(runs.count == 1, "\(runs)")
        let log = cluster.coordinator.text
        #expect(log.contains("refused a worker's claim on an attempt dispatched to another identity"), "\(log)")
        let liarKey = try String(contentsOfFile: cluster.keyDirectory + "/liar.public", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let honestKey = try String(contentsOfFile: cluster.keyDirectory + "/worker1.public", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(log.contains(liarKey) && log.contains(honestKey), "the refusal names both keys:\n\(log)")
    }

    @Test func anotherKeyCannotRegisterUnderAConnectedWorkersName() async throws {
        try await withCluster(workers: 1) { cluster in
            try await cluster.generateKeys(name: "impostor")
            let allowed = try await cluster.cli(["workers", "allow", cluster.keyDirectory + "/impostor.public", "--name", "impostor"])
            #expect(allowed.status == 0, "\(allowed.stderr)")
            let impostor = try ChildHandle(
                name: "impostor", executable: cluster.executable,
                arguments: [
                    "worker", "--coordinator", cluster.zmqEndpoint, "--name", "worker1", "--work-dir", cluster.directory + "/impostor",
                    "--secret-key", cluster.keyDirectory + "/impostor.secret", "--coordinator-key", cluster.keyDirectory + "/coordinator.public",
                ])
            let status = await impostor.waitForExit(timeout: .seconds(30))
            #expect(status != nil && status != 0, "the impostor kept running:\n\(impostor.text)")
            #expect(impostor.text.contains("in use"), "the impostor was not told why:\n\(impostor.text)")
            let workers = try await cluster.cli(["workers", "--json"])
            let list = try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(list.filter { $0["connected"] as? Bool == true }.count == 1, "\(workers.stdout)")
            #expect(cluster.coordinator.text.contains("refused a worker's registration"), "\(cluster.coordinator.text)")
        }
    }
}
