import Foundation
import TestKit
import Testing

/// A one-step pipeline whose output no other run shares: pruning its run frees its blobs.
private func scratchPipeline(in directory: String) throws -> String {
    let text = """
        type: pipeline
        display_name: scratch
        jobs:
          write:
            command: echo scratch-\(UUID().uuidString) > ${{outputs.out}}/scratch.txt
            outputs:
              out: {type: uri_folder}
        """
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try text.write(toFile: directory + "/scratch.yml", atomically: true, encoding: .utf8)
    return directory + "/scratch.yml"
}

/// The blob files of a coordinator's artifact store.
private func blobFiles(of cluster: Cluster) -> Set<String> {
    let root = cluster.directory + "/coordinator/blobs/blobs"
    var names = Set<String>()
    for prefix in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
        for rest in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + prefix)) ?? [] { names.insert(prefix + rest) }
    }
    return names
}

private func milliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// `conduit runs prune` against a real coordinator and worker: old runs go with their logs and the
/// blobs nothing else refers to, and a cache hit is still a hit (or a clean miss) afterwards.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RetentionTests {
    @Test func pruneFreesOldRunsAndKeepsEveryHitWorking() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let numbers = try Fixtures.numbersPipeline(in: work)
            let scratch = try scratchPipeline(in: work + "/scratch")
            let registry = ["--registry", work + "/registry"]

            // run 0 (scratch) and run 1 (numbers) end before the cutoff; run 2 reuses run 1 entirely.
            let run0 = try await cluster.cli(["submit", scratch, "--wait", "--json"])
            #expect(run0.status == 0, "\(run0.stderr)")
            let scratchRun = try #require(try run0.json()["run"] as? String)
            let run1 = try await cluster.cli(["submit", numbers, "--wait", "--json"])
            #expect(run1.status == 0, "\(run1.stderr)")
            let oldRun = try #require(try run1.json()["run"] as? String)
            let cutoff = milliseconds() + 1
            let run2 = try await cluster.cli(["submit", numbers, "--wait", "--json"])
            #expect(run2.status == 0, "\(run2.stderr)")
            let hitRun = try #require(try run2.json()["run"] as? String)
            #expect(steps(of: try run2.json()).values.allSatisfy(\.reused))
            let blobsBefore = blobFiles(of: cluster)

            // A dry run says what would go and deletes nothing.
            let dry = try await cluster.cli(["runs", "prune", "--ended-before", "\(cutoff)", "--dry-run", "--json"] + registry)
            #expect(dry.status == 0, "\(dry.stderr)")
            let planned = try dry.json()
            #expect(planned["dryRun"] as? Bool == true)
            #expect(planned["runs"] as? [String] == [scratchRun, oldRun])
            #expect(blobFiles(of: cluster) == blobsBefore)
            #expect(try await cluster.cli(["status", oldRun]).status == 0)
            #expect(try await cluster.cli(["logs", oldRun, "total"]).stdout.contains("total 30"))

            // The prune frees what the dry run said.
            let pruned = try await cluster.cli(["runs", "prune", "--ended-before", "\(cutoff)", "--json"] + registry)
            #expect(pruned.status == 0, "\(pruned.stderr)")
            let report = try pruned.json()
            #expect(report["dryRun"] as? Bool == false)
            #expect(report["runs"] as? [String] == [scratchRun, oldRun])
            #expect(report["attempts"] as? Int == 5)  // scratch's one step and numbers' four
            #expect((report["logBytes"] as? Int ?? 0) > 0)
            #expect(report["cacheEntries"] as? Int == 1)  // scratch's: its blobs went
            #expect(report["cacheEntriesKept"] as? Int == 4)  // numbers': run 2 still names their blobs
            #expect(report["blobs"] as? Int == 2)  // scratch's output: its manifest and its file
            #expect((report["blobBytes"] as? Int ?? 0) > 0)
            for key in ["runs", "attempts", "logBytes", "cacheEntries", "cacheEntriesKept", "blobs", "blobBytes"] {
                #expect("\(planned[key] ?? "")" == "\(report[key] ?? "")", "dry run and prune differ on \(key)")
            }
            let blobsAfter = blobFiles(of: cluster)
            #expect(blobsBefore.subtracting(blobsAfter).count == 2)
            #expect(blobsAfter.isSubset(of: blobsBefore))
            let gone = try await cluster.cli(["status", oldRun])
            #expect(gone.status == 2, "\(gone.stdout)")
            #expect(try await cluster.cli(["status", hitRun]).status == 0)
            let listed = try await cluster.cli(["runs", "--json"])
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains(hitRun) && !listed.stdout.contains(oldRun) && !listed.stdout.contains(scratchRun))

            // Numbers: still a hit, with the right bytes. Scratch: a clean miss that runs again.
            let again = try await cluster.cli(["submit", numbers, "--wait", "--json", "--output-dir", work + "/again"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(steps(of: try again.json()).values.allSatisfy { $0.reused && $0.status == "completed" })
            #expect(try String(contentsOfFile: work + "/again/total/total.txt", encoding: .utf8) == "30\n")
            let rerun = try await cluster.cli(["submit", scratch, "--wait", "--json"])
            #expect(rerun.status == 0, "\(rerun.stderr)")
            let write = try #require(steps(of: try rerun.json())["write"])
            // A worker that uploaded the pruned output before believes the coordinator still holds it:
            // its first attempt is then rejected as incomplete (worker_error) and retried at once.
            #expect(write.status == "completed" && !write.reused && (1...2).contains(write.attempts), "\(rerun.stdout)")

            // Nothing more is old enough: a second prune frees nothing.
            let nothing = try await cluster.cli(["runs", "prune", "--ended-before", "\(cutoff)", "--json"] + registry)
            #expect(try nothing.json()["runs"] as? [String] == [])
        }
    }

    @Test func registeredDataKeepsItsBlobs() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let files = [
                "data/rows.txt": "registered \(UUID().uuidString)\n",
                "data.yml": "name: retention-rows\ntype: uri_folder\npath: ./data\n",
                "reader.yml": """
                    type: pipeline
                    display_name: reader
                    inputs:
                      raw: {type: uri_folder, path: azureml:retention-rows@latest}
                    jobs:
                      read:
                        command: cp ${{inputs.raw}}/rows.txt ${{outputs.out}}/copy.txt
                        inputs:
                          raw: ${{parent.inputs.raw}}
                        outputs:
                          out: {type: uri_folder}
                    """,
            ]
            for (name, text) in files {
                try FileManager.default.createDirectory(atPath: work + "/" + (name as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: work + "/" + name, atomically: true, encoding: .utf8)
            }
            let registry = ["--registry", work + "/registry"]
            let created = try await cluster.cli(["data", "create", "--file", work + "/data.yml"] + registry)
            #expect(created.status == 0, "\(created.stderr)")
            let shown = try await cluster.cli(["data", "show", "retention-rows"] + registry)
            let line = try #require(shown.stdout.split(separator: "\n").first { $0.hasPrefix("digest: ") })
            let asset = String(line.dropFirst("digest: ".count))
            let ran = try await cluster.cli(["submit", work + "/reader.yml", "--wait"] + registry)
            #expect(ran.status == 0, "\(ran.stderr)\(ran.stdout)")
            let cutoff = milliseconds() + 1
            #expect(blobFiles(of: cluster).contains(asset))

            // Without the registry, the asset's manifest, its file and the run's output manifest would go
            // (the output's file is the asset's file).
            let unregistered = try await cluster.cli(["runs", "prune", "--ended-before", "\(cutoff)", "--dry-run", "--json", "--registry", work + "/empty"])
            #expect(try unregistered.json()["blobs"] as? Int == 3, "\(unregistered.stdout)")
            // With it, only the output's manifest goes.
            let pruned = try await cluster.cli(["runs", "prune", "--ended-before", "\(cutoff)", "--json"] + registry)
            #expect(try pruned.json()["blobs"] as? Int == 1, "\(pruned.stdout)")
            #expect(blobFiles(of: cluster).contains(asset))
            let again = try await cluster.cli(["submit", work + "/reader.yml", "--wait"] + registry)
            #expect(again.status == 0, "\(again.stderr)")
        }
    }

    @Test func badAgesAreRefusedWithWhatWasExpected() async throws {
        try await withCluster(workers: 0) { cluster in
            for (arguments, expected) in [
                (["--older-than", "30"], "'30' has no unit"),
                (["--older-than", "2w"], "unknown unit"),
                (["--older-than", "0d"], "more than zero"),
                ([String](), "--older-than AGE"),
                (["--older-than", "1d", "--ended-before", "5"], "choose one"),
                (["--ended-before", "yesterday"], "neither an ISO 8601 time"),
                (["--older-than", "1d", "--keep-last=-1"], "--keep-last must be 0 or more"),
            ] {
                let result = try await cluster.cli(["runs", "prune"] + arguments)
                #expect(result.status == 2, "\(arguments): \(result.status)")
                #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            }
            let fine = try await cluster.cli(["runs", "prune", "--older-than", "30d", "--dry-run"])
            #expect(fine.status == 0, "\(fine.stderr)")
            #expect(fine.stdout.contains("would delete 0 runs"), "\(fine.stdout)")
        }
    }
}
