import Artifacts
import Foundation
import TestKit
import Testing

/// A blob changed in place on the coordinator's disk (same size), end to end with real processes:
/// the first read that finds it damaged quarantines it, the cache entries that use it stop counting,
/// the step that made it runs again, and `conduit explain` says why.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DataIntegrityTests {
    static func pipeline(token: String, in work: String) throws -> String {
        try Fixtures.pipeline("""
            type: pipeline
            outputs:
              copied: {type: uri_file}
            jobs:
              make:
                command: echo making; echo made at \(token) > ${{outputs.said}}/said.txt
                outputs:
                  said:
              copy:
                command: cat ${{inputs.said}}/said.txt > ${{outputs.copied}}
                inputs:
                  said: ${{parent.jobs.make.outputs.said}}
                outputs:
                  copied: ${{parent.outputs.copied}}
            """, in: work)
    }

    /// Flips one byte of the file in place, keeping its size.
    static func damageInPlace(_ path: String) throws {
        chmod(path, 0o600)
        defer { chmod(path, 0o400) }
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: 2)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: 2)
        try handle.write(contentsOf: [byte ^ 0x20])
    }

    @Test func aDownloadOfABlobChangedInPlaceFailsQuarantinesItAndTheStepThatMadeItRunsAgain() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let token = UUID().uuidString
            let content = "made at \(token)\n"
            let pipeline = try Self.pipeline(token: token, in: work)
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let firstRun = try #require(try first.json()["run"] as? String)
            // Step logs can hold secrets: owner-only, like the rest of the data directory.
            let logs = cluster.directory + "/coordinator/logs"
            let logFiles = try FileManager.default.contentsOfDirectory(atPath: logs)
            #expect(!logFiles.isEmpty)
            for name in logFiles {
                let mode = (try FileManager.default.attributesOfItem(atPath: logs + "/" + name)[.posixPermissions] as? NSNumber)?.intValue
                #expect(mode == 0o600, "\(name)")
            }

            let store = try BlobStore(root: cluster.directory + "/coordinator/blobs")
            let digest = SHA256Hasher.digest(of: Array(content.utf8))
            try Self.damageInPlace(store.path(of: digest))

            // The download reads the damaged bytes: it fails rather than hand them out.
            let download = try await cluster.cli(["download", firstRun, "copied", work + "/bad"])
            #expect(download.status != 0, "a damaged blob must not be downloaded: \(download.stdout)")
            #expect(!FileManager.default.fileExists(atPath: work + "/bad/copied"))
            #expect(store.isQuarantined(digest), "the blob is quarantined")
            #expect(cluster.coordinator.text.contains("failed verification"), "with a log line")

            // The next submission runs the step that made it again; the re-upload repairs the store.
            let second = try await cluster.cli(["submit", pipeline, "--wait", "--json", "--output-dir", work + "/out"])
            #expect(second.status == 0, "\(second.stderr)")
            let summary = try second.json()
            #expect(steps(of: summary)["make"]?.reused == false, "a cache entry using a quarantined blob does not count")
            #expect(try String(contentsOfFile: work + "/out/copied", encoding: .utf8) == content)
            #expect(store.contains(digest), "the re-run stored the bytes again")
            #expect(try store.verify(digest), "the right bytes")
            let explain = try await cluster.cli(["explain", try #require(summary["run"] as? String), "make"])
            #expect(explain.stdout.contains("failed verification"), "\(explain.stdout)")

            // `conduit store verify` will not run beside the live coordinator.
            let verify = try await cluster.cli(["store", "verify", "--data-dir", cluster.directory + "/coordinator"])
            #expect(verify.status == 3, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stderr.contains("coordinator is running"), "\(verify.stderr)")
        }
    }

    @Test func aFetchOfABlobChangedInPlaceIsRefusedAndTheNextSubmissionRunsItsProducerAgain() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let token = UUID().uuidString
            let content = "made at \(token)\n"
            let pipeline = try Self.pipeline(token: token, in: work)
            let first = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")

            let store = try BlobStore(root: cluster.directory + "/coordinator/blobs")
            let digest = SHA256Hasher.digest(of: Array(content.utf8))
            try Self.damageInPlace(store.path(of: digest))
            // A worker with an empty cache: it must fetch the input from the coordinator.
            await cluster.workers[0].stop()
            try await cluster.addWorker(name: "fresh")

            let second = try await cluster.cli(["submit", pipeline, "--force", "copy", "--wait", "--json"])
            #expect(second.status != 0, "the input of `copy` is damaged and its producer is not part of this run's work")
            #expect(store.isQuarantined(digest), "the coordinator found it damaged while serving it")

            let third = try await cluster.cli(["submit", pipeline, "--wait", "--json", "--output-dir", work + "/out"])
            #expect(third.status == 0, "\(third.stderr)")
            let summary = try third.json()
            #expect(steps(of: summary)["make"]?.reused == false)
            #expect(try String(contentsOfFile: work + "/out/copied", encoding: .utf8) == content)
            let explain = try await cluster.cli(["explain", try #require(summary["run"] as? String), "make"])
            #expect(explain.stdout.contains("cached output blob \(digest.hex.prefix(12)) failed verification"), "\(explain.stdout)")
        }
    }
}

/// The coordinator daemon on a damaged database: refused with what to do, then `--recover` restores
/// the backup its clean shutdown took.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DatabaseRecoveryCommandTests {
    @Test func aDamagedDatabaseIsRefusedAndRecoverRestoresTheBackupTakenAtShutdown() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-recover")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let executable = ProcessHarness.conduitExecutable()
        let data = directory + "/data"
        func arguments() throws -> [String] {
            ["coordinator", "--data-dir", data, "--listen", "tcp://127.0.0.1:\(try LoopbackPort.unusedBelowEphemeralRange())", "--http", "127.0.0.1:0", "--plaintext"]
        }

        let first = try ChildHandle(name: "coordinator", executable: executable, arguments: try arguments())
        #expect(await first.waitForOutput(containing: "clients on http://") != nil, "\(first.text)")
        first.signal(SIGTERM)
        #expect(await first.waitForExit() != nil, "\(first.text)")
        let backups = try FileManager.default.contentsOfDirectory(atPath: data + "/backups").filter { $0.hasSuffix("Z.sqlite") }
        #expect(backups.count == 1, "a clean shutdown takes a backup: \(backups)")

        // Damage the root page of the worker keys table (nothing reads it before the check at start;
        // the last page of the file may be a free page, whose damage no check sees).
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = [
            "python3", "-c",
            // Checkpointed first, so the page is read from the database file, not from the write-ahead log.
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('pragma wal_checkpoint(truncate)'); "
                + "print(c.execute('pragma page_size').fetchone()[0], c.execute(\"select rootpage from sqlite_master where name = 'worker_keys'\").fetchone()[0])",
            data + "/conduit.sqlite",
        ]
        let output = Pipe()
        probe.standardOutput = output
        try probe.run()
        probe.waitUntilExit()
        let numbers = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: " ").compactMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(numbers.count == 2 && numbers[1] > 1, "page size and root page: \(numbers)")
        let handle = try #require(FileHandle(forUpdatingAtPath: data + "/conduit.sqlite"))
        try handle.seek(toOffset: (numbers[1] - 1) * numbers[0])
        try handle.write(contentsOf: Data(repeating: 0xA5, count: Int(numbers[0])))
        try handle.close()

        let refused = try ChildHandle(name: "coordinator", executable: executable, arguments: try arguments())
        #expect(await refused.waitForExit() == 3, "\(refused.text)")
        #expect(refused.text.contains("is damaged"), "\(refused.text)")
        #expect(refused.text.contains("--recover"), "\(refused.text)")

        let recovered = try ChildHandle(name: "coordinator", executable: executable, arguments: try arguments() + ["--recover"])
        #expect(await recovered.waitForOutput(containing: "clients on http://") != nil, "\(recovered.text)")
        #expect(recovered.text.contains("restored the database from \(data)/backups/\(backups[0])"), "\(recovered.text)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: data).filter {
            $0.hasPrefix("conduit.sqlite.damaged-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm")
        }
        #expect(aside.count == 1, "the damaged database is kept: \(aside)")
        recovered.signal(SIGTERM)
        _ = await recovered.waitForExit()
    }
}
