import Foundation
import Glibc
import TestKit
import Testing

/// Start-up refusals and a connection flood against the real binary: plain text only on loopback unless
/// asked for, key and token files that are not regular files refused at once, and a running step that
/// survives a flood of idle HTTP connections.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct StartUpHardeningTests {
    @Test func plaintextOnAnAddressOtherMachinesReachNeedsInsecureListen() async throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.directory) }
        let data = cluster.directory + "/data"
        for listen in [nil, "tcp://0.0.0.0:0", "tcp://*:0", "tcp://192.168.1.20:5555", "tcp://eth0:5555"] {
            let arguments = ["coordinator", "--data-dir", data, "--http", "127.0.0.1:0", "--plaintext"]
                + (listen.map { ["--listen", $0] } ?? [])
            let refused = try await cluster.cli(arguments, timeout: .seconds(20))
            #expect(refused.status == 2, "\(listen ?? "default"): \(refused.stderr)")
            #expect(refused.stderr.contains("--insecure-listen") && refused.stderr.contains("tcp://127.0.0.1"), "\(refused.stderr)")
        }
        let misplaced = try await cluster.cli(
            ["coordinator", "--data-dir", data, "--insecure-listen", "--secret-key", data + "/none"], timeout: .seconds(20))
        #expect(misplaced.status == 2 && misplaced.stderr.contains("--insecure-listen only applies to --plaintext"), "\(misplaced.stderr)")

        for listen in ["tcp://0.0.0.0:*", "ipc://\(cluster.directory)/zmq.sock"] {
            let extra = listen.hasPrefix("tcp://0") ? ["--insecure-listen"] : []
            let started = try ChildHandle(
                name: "plaintext", executable: cluster.executable,
                arguments: ["coordinator", "--data-dir", data, "--http", "127.0.0.1:0", "--listen", listen, "--plaintext"] + extra)
            let line = await started.waitForOutput(containing: "clients on http://", timeout: .seconds(30))
            await started.stop()
            #expect(line != nil, "\(listen): \(started.text)")
        }
    }

    @Test func keyAndTokenFilesThatAreFIFOsAreRefusedAtOnce() async throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.directory) }
        try FileManager.default.createDirectory(atPath: cluster.keyDirectory, withIntermediateDirectories: true)
        try await cluster.generateKeys(name: "head")
        let fifo = cluster.directory + "/key.fifo"
        #expect(mkfifo(fifo, 0o600) == 0, "mkfifo: \(String(cString: strerror(errno)))")
        let data = cluster.directory + "/data"
        let secret = cluster.keyDirectory + "/head.secret"
        let publicKey = cluster.keyDirectory + "/head.public"
        let attempts: [[String]] = [
            ["coordinator", "--data-dir", data, "--http", "127.0.0.1:0", "--listen", "tcp://127.0.0.1:*", "--secret-key", fifo],
            ["coordinator", "--data-dir", data, "--http", "127.0.0.1:0", "--listen", "tcp://127.0.0.1:*", "--plaintext", "--http-token-file", fifo],
            ["worker", "--coordinator", "tcp://127.0.0.1:1", "--secret-key", fifo, "--coordinator-key", publicKey],
            ["worker", "--coordinator", "tcp://127.0.0.1:1", "--secret-key", secret, "--coordinator-key", fifo],
            ["workers", "allow", fifo, "--name", "w"],
            ["status", "no-such-run", "--coordinator-url", "http://127.0.0.1:1", "--token-file", fifo],
        ]
        for arguments in attempts {
            // A hang ends in a HarnessError after 20 seconds; refusing takes a moment.
            let refused = try await cluster.cli(arguments, timeout: .seconds(20))
            #expect(refused.status != 0, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains(fifo) && refused.stderr.contains("not a regular file"), "\(arguments): \(refused.stderr)")
        }
    }

    @Test func aFloodOfIdleHTTPConnectionsDoesNotFailARunningStep() async throws {
        let cluster = try Cluster()
        // 400 descriptors in all (soft and hard): before the HTTP limits, 400 idle connections took them all.
        cluster.coordinatorLauncher = ["/usr/bin/prlimit", "--nofile=400:400", "--"]
        cluster.coordinatorOptions = ["--http-max-connections-per-address", "32"]
        do {
            try await floodThenRun(cluster)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    private func floodThenRun(_ cluster: Cluster) async throws {
        try await cluster.start(workers: 1)
        // 400 descriptors: 72 connections at most (half the descriptors stay reserved, two per connection).
        #expect(cluster.coordinator.text.contains("at most 72 connections"), "\(cluster.coordinator.text)")
        let port = try #require(Int(cluster.httpURL.split(separator: ":").last ?? ""))
        let flood = try await RawConnection.open(400, from: "127.0.0.2", port: port)
        // One address keeps 32 (its limit here); the rest are closed at once.
        let refused = try await onThread { RawConnection.waitUntilClosed(flood, atLeast: 368, timeout: .seconds(30)) }
        #expect(refused >= 368)

        let work = try ProcessHarness.temporaryDirectory()
        let pipeline = try Fixtures.pipeline("""
            type: pipeline
            jobs:
              write:
                command: head -c 3000000 /dev/urandom > ${{outputs.data}}/blob.bin
                outputs:
                  data:
            """, in: work)
        let submitted = try await cluster.cli(["submit", pipeline, "--wait", "--json"], timeout: .seconds(120))
        #expect(submitted.status == 0, "\(submitted.stderr)\n\(cluster.coordinator.text.suffix(3000))")
        let summary = try submitted.json()
        let step = try #require((summary["steps"] as? [[String: Any]])?.first)
        #expect(step["status"] as? String == "completed", "\(summary)")
        #expect(step["attempts"] as? Int == 1, "the step ran once: \(summary)")
        #expect(cluster.coordinator.text.contains("refused 1 connection(s) from 127.0.0.2"), "the flood was logged")
        _ = flood
    }
}
