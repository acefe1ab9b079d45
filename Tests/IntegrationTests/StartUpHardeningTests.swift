import Foundation
import Glibc
import TestKit
import Testing

/// Start-up refusals and a connection flood against the real binary: plain text only on loopback unless
/// asked for, key and token files that are not regular files refused at once, and a running step that
/// survives a flood of idle HTTP connections.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct StartUpHardeningTests {
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
