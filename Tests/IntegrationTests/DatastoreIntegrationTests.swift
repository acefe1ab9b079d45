import Foundation
import TestKit
import Testing

/// Datastores end to end: a coordinator started with `--datastore NAME=DIR`, a pipeline that reads
/// `azureml://datastores/NAME/paths/...` and writes an output to a path made of server expressions.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DatastoreIntegrationTests {
    static let pipeline = """
        type: pipeline
        settings:
          default_datastore: azureml:shared
        inputs:
          raw:
            type: uri_folder
            path: azureml://datastores/shared/paths/raw
        outputs:
          counted:
            type: uri_file
            path: azureml://datastores/${{default_datastore}}/paths/results/${{name}}/${{output_name}}.txt
        jobs:
          count:
            command: wc -l < ${{inputs.raw}}/in.csv | tr -d ' ' > ${{outputs.n}}
            inputs:
              raw: ${{parent.inputs.raw}}
            outputs:
              n: ${{parent.outputs.counted}}
        """

    /// The files under `directory`, relative path → content.
    static func files(under directory: String) -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + relative
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            result[relative] = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }
        return result
    }

    @Test func inputsAreReadByContentAndOutputsWrittenWhereTheirPathsSay() async throws {
        let shared = try ProcessHarness.temporaryDirectory("conduit-datastore")
        try FileManager.default.createDirectory(atPath: shared + "/raw", withIntermediateDirectories: true)
        try "a\nb\n".write(toFile: shared + "/raw/in.csv", atomically: true, encoding: .utf8)
        let directory = try ProcessHarness.temporaryDirectory("conduit-datastore-pipeline")
        let file = try Fixtures.pipeline(Self.pipeline, in: directory)

        let cluster = try Cluster()
        cluster.coordinatorOptions = ["--datastore", "shared=" + shared]
        do {
            try await cluster.start(workers: 1)
            let first = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let firstRun = try #require(try first.json()["run"] as? String)
            #expect(Self.files(under: shared + "/results") == ["\(firstRun).count/n.txt": "2\n"])

            // Same bytes: reused, and the reused output is written under the new run's name too.
            let again = try await cluster.cli(["submit", file, "--wait", "--json"])
            let againRun = try #require(try again.json()["run"] as? String)
            #expect(steps(of: try again.json())["count"]?.reused == true)
            #expect(Self.files(under: shared + "/results")["\(againRun).count/n.txt"] == "2\n")

            // New content at the same path: the step runs again.
            try "a\nb\nc\n".write(toFile: shared + "/raw/in.csv", atomically: true, encoding: .utf8)
            let changed = try await cluster.cli(["submit", file, "--wait", "--json"])
            let changedRun = try #require(try changed.json()["run"] as? String)
            #expect(steps(of: try changed.json())["count"]?.reused == false)
            #expect(Self.files(under: shared + "/results")["\(changedRun).count/n.txt"] == "3\n")
            let explained = try await cluster.cli(["explain", changedRun, "count"])
            #expect(explained.stdout.contains("input raw: azureml://datastores/shared/paths/raw changed"), "\(explained.stdout)")

            // A dry run reads the datastore by content too, and stores nothing.
            let same = try await cluster.cli(["submit", file, "--dry-run"])
            #expect(same.status == 0, "\(same.stderr)")
            #expect(same.stdout.contains("reuse"), "\(same.stdout)")
            try "a\n".write(toFile: shared + "/raw/in.csv", atomically: true, encoding: .utf8)
            let predicted = try await cluster.cli(["submit", file, "--dry-run"])
            #expect(predicted.stdout.contains("input raw: azureml://datastores/shared/paths/raw changed"), "\(predicted.stdout)")

            // A datastore the coordinator does not have is refused before anything runs.
            let other = try Fixtures.pipeline(
                Self.pipeline.replacingOccurrences(of: "datastores/shared/paths/raw", with: "datastores/elsewhere/paths/raw"),
                named: "other.yml", in: directory
            )
            let refused = try await cluster.cli(["submit", other, "--wait"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("elsewhere") && refused.stderr.contains("shared"), "\(refused.stderr)")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// `conduit run --datastore`: a link inside the datastore that leaves it (`etc -> /etc`) is refused
    /// before anything runs, naming the link, in a dry run too; an output written to a datastore folder
    /// lands beside the files already there, run after run; a link planted where an output goes does
    /// not redirect the write.
    @Test func linksOutOfADatastoreAreRefusedAndOutputsAreWrittenBesideExistingFiles() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let shared = home + "/shared"
        let outside = home + "/outside"
        try FileManager.default.createDirectory(atPath: shared + "/reports", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: shared + "/etc", withDestinationPath: "/etc")
        try FileManager.default.createSymbolicLink(atPath: shared + "/planted", withDestinationPath: outside)
        try "mine\n".write(toFile: shared + "/reports/keep-me.txt", atomically: true, encoding: .utf8)
        let datastore = ["--datastore", "shared=" + shared, "--output-dir", home + "/out"]

        let marker = home + "/step-ran"
        let leak = try Fixtures.pipeline("""
            type: pipeline
            inputs:
              secret:
                type: uri_file
                path: azureml://datastores/shared/paths/etc/passwd
            jobs:
              leak:
                command: cat ${{inputs.secret}}; touch \(marker)
                inputs:
                  secret: ${{parent.inputs.secret}}
            """, named: "leak.yml", in: home)
        let refusal = "datastore shared: 'etc' is a symbolic link to '/etc'"
        let refused = try await runEmbedded(["run", leak] + datastore, home: home)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains(refusal), "\(refused.stderr)")
        #expect(!refused.stdout.contains("root:") && !refused.stderr.contains("root:"), "nothing of /etc/passwd is shown")
        #expect(!FileManager.default.fileExists(atPath: marker), "the step did not run")
        let dryRun = try await runEmbedded(["run", leak, "--dry-run"] + datastore, home: home)
        #expect(dryRun.status != 0)
        #expect(dryRun.stderr.contains(refusal), "\(dryRun.stderr)")

        let report = try Fixtures.pipeline("""
            type: pipeline
            inputs:
              word: one
            outputs:
              report:
                type: uri_folder
                path: azureml://datastores/shared/paths/reports
              escape:
                type: uri_folder
                path: azureml://datastores/shared/paths/planted/escape
            jobs:
              write:
                command: echo ${{inputs.word}} > ${{outputs.report}}/a.txt; echo x > ${{outputs.escape}}/x.txt
                inputs:
                  word: ${{parent.inputs.word}}
                outputs:
                  report: ${{parent.outputs.report}}
                  escape: ${{parent.outputs.escape}}
            """, named: "report.yml", in: home)
        let expected = { (word: String) in ["a.txt": word + "\n", "keep-me.txt": "mine\n"] }
        let first = try await runEmbedded(["run", report, "--json"] + datastore, home: home)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Self.files(under: shared + "/reports") == expected("one"))
        let again = try await runEmbedded(["run", report, "--json"] + datastore, home: home)
        #expect(steps(of: try again.json())["write"]?.reused == true, "\(again.stdout)")
        #expect(Self.files(under: shared + "/reports") == expected("one"))
        let changed = try await runEmbedded(["run", report, "--json", "--set", "inputs.word=two"] + datastore, home: home)
        #expect(steps(of: try changed.json())["write"]?.reused == false, "\(changed.stdout)")
        #expect(Self.files(under: shared + "/reports") == expected("two"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "the planted link redirected nothing")
    }
    /// One step writes a datastore path, a later one (after it through a dependency) reads it.
    static let writeThenRead = """
        type: pipeline
        inputs:
          word: one
        jobs:
          write:
            command: echo ${{inputs.word}} > ${{outputs.staged}}/word.txt; echo done > ${{outputs.marker}}
            inputs:
              word: ${{parent.inputs.word}}
            outputs:
              staged:
                type: uri_folder
                path: azureml://datastores/shared/paths/staged
              marker:
                type: uri_file
          read:
            command: cat ${{inputs.staged}}/*.txt > ${{outputs.seen}}
            inputs:
              staged:
                type: uri_folder
                path: azureml://datastores/shared/paths/staged
              after: ${{parent.jobs.write.outputs.marker}}
            outputs:
              seen:
                type: uri_file
                path: azureml://datastores/shared/paths/seen/${{name}}.txt
        """

    /// Datastore inputs are read when their step is ready: a step reads what an earlier step of the
    /// same run wrote there (a missing path is not refused at submission when a step writes it),
    /// never the bytes there at submission; bytes changed outside Conduit re-run the reader, and
    /// `explain` names the path; a dry run says the input is read at run time.
    @Test func aStepReadsWhatAnEarlierStepWroteToADatastoreInTheSameRun() async throws {
        let shared = try ProcessHarness.temporaryDirectory("conduit-datastore-staged")
        let directory = try ProcessHarness.temporaryDirectory("conduit-datastore-staged-pipeline")
        let file = try Fixtures.pipeline(Self.writeThenRead, in: directory)
        let seen = { (run: String) in Self.files(under: shared + "/seen")[run + ".read.txt"] }

        let cluster = try Cluster()
        cluster.coordinatorOptions = ["--datastore", "shared=" + shared]
        do {
            try await cluster.start(workers: 1)
            // Nothing is at paths/staged yet: the step write makes it.
            let first = try await cluster.cli(["submit", file, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let firstRun = try #require(try first.json()["run"] as? String)
            #expect(seen(firstRun) == "one\n")

            // The path now holds "one"; the run writes "two" there first, and the reader sees "two".
            let second = try await cluster.cli(["submit", file, "--wait", "--json", "--set", "inputs.word=two"])
            #expect(second.status == 0, "\(second.stderr)")
            let secondRun = try #require(try second.json()["run"] as? String)
            #expect(steps(of: try second.json())["read"]?.reused == false)
            #expect(seen(secondRun) == "two\n")

            // A dry run says when the input is read, and predicts from what the path holds now.
            let dryRun = try await cluster.cli(["submit", file, "--dry-run", "--set", "inputs.word=two"])
            #expect(dryRun.status == 0, "\(dryRun.stderr)")
            #expect(dryRun.stdout.contains("input staged: azureml://datastores/shared/paths/staged is read at run time"), "\(dryRun.stdout)")

            // Bytes added outside Conduit: the writer is reused, the reader runs again, and explain names the path.
            try "three\n".write(toFile: shared + "/staged/zz.txt", atomically: true, encoding: .utf8)
            let third = try await cluster.cli(["submit", file, "--wait", "--json", "--set", "inputs.word=two"])
            #expect(third.status == 0, "\(third.stderr)")
            let thirdRun = try #require(try third.json()["run"] as? String)
            #expect(steps(of: try third.json())["write"]?.reused == true)
            #expect(steps(of: try third.json())["read"]?.reused == false)
            #expect(seen(thirdRun) == "two\nthree\n")
            let explained = try await cluster.cli(["explain", thirdRun, "read"])
            #expect(explained.stdout.contains("input staged: azureml://datastores/shared/paths/staged changed"), "\(explained.stdout)")

            // The same bytes again: reused.
            let fourth = try await cluster.cli(["submit", file, "--wait", "--json", "--set", "inputs.word=two"])
            #expect(steps(of: try fourth.json())["read"]?.reused == true, "\(fourth.stdout)")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A missing path that no step writes is refused at submission; one a step should have written
    /// but did not fails the reading step when it is ready, naming the datastore, the path and the
    /// step that should have written it.
    @Test func aMissingDatastorePathIsRefusedOnlyWhenNoStepWritesIt() async throws {
        let shared = try ProcessHarness.temporaryDirectory("conduit-datastore-missing")
        let directory = try ProcessHarness.temporaryDirectory("conduit-datastore-missing-pipeline")
        let nowhere = try Fixtures.pipeline(
            Self.writeThenRead.replacingOccurrences(of: "paths/staged\n      after", with: "paths/nowhere\n      after"),
            named: "nowhere.yml", in: directory)
        let forgotten = try Fixtures.pipeline(
            Self.writeThenRead.replacingOccurrences(
                of: "type: uri_folder\n        path: azureml://datastores/shared/paths/staged\n      after",
                with: "type: uri_file\n        path: azureml://datastores/shared/paths/staged/never.txt\n      after"),
            named: "forgotten.yml", in: directory)

        #expect(try String(contentsOfFile: nowhere, encoding: .utf8).contains("paths/nowhere"))
        #expect(try String(contentsOfFile: forgotten, encoding: .utf8).contains("paths/staged/never.txt"))

        let cluster = try Cluster()
        cluster.coordinatorOptions = ["--datastore", "shared=" + shared]
        do {
            try await cluster.start(workers: 1)
            let refused = try await cluster.cli(["submit", nowhere, "--wait"])
            #expect(refused.status != 0)
            #expect(
                refused.stderr.contains("step read, input staged: azureml://datastores/shared/paths/nowhere does not exist")
                    && refused.stderr.contains("no step of this pipeline writes it"), "\(refused.stderr)")
            let runs = try await cluster.cli(["runs", "--json"])
            #expect(!runs.stdout.contains("run-"), "nothing was started: \(runs.stdout)")

            let failed = try await cluster.cli(["submit", forgotten, "--wait", "--json"])
            #expect(failed.status != 0)
            let summary = try failed.json()
            #expect(steps(of: summary)["write"]?.status == "completed")
            #expect(steps(of: summary)["read"]?.status == "failed")
            let reason = summary["reason"] as? String ?? ""
            #expect(
                reason.contains("azureml://datastores/shared/paths/staged/never.txt does not exist when the step is ready")
                    && reason.contains("datastore shared") && reason.contains("step write (output staged"), "\(reason)")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A coordinator killed while a step that read a datastore runs: the step's retry after the
    /// restart reads the content snapshotted when the step became ready, not the path as it is now.
    @Test func aRetryAfterACoordinatorRestartReadsTheSnapshotTakenWhenTheStepWasReady() async throws {
        let shared = try ProcessHarness.temporaryDirectory("conduit-datastore-restart")
        let directory = try ProcessHarness.temporaryDirectory("conduit-datastore-restart-pipeline")
        try FileManager.default.createDirectory(atPath: shared + "/staged", withIntermediateDirectories: true)
        try "before\n".write(toFile: shared + "/staged/word.txt", atomically: true, encoding: .utf8)
        let marker = directory + "/first-attempt"
        let file = try Fixtures.pipeline("""
            type: pipeline
            jobs:
              read:
                command: cat ${{inputs.staged}}/word.txt > ${{outputs.seen}}; if [ ! -e \(marker) ]; then touch \(marker); sleep 4; exit 1; fi
                retry: {attempts: 2, backoff: 0}
                inputs:
                  staged:
                    type: uri_folder
                    path: azureml://datastores/shared/paths/staged
                outputs:
                  seen:
                    type: uri_file
                    path: azureml://datastores/shared/paths/seen/${{name}}.txt
            """, in: directory)

        let cluster = try Cluster()
        cluster.coordinatorOptions = ["--datastore", "shared=" + shared]
        do {
            try await cluster.start(workers: 1)
            let submitted = try await cluster.cli(["submit", file])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try await waitForFile(marker)
            try "after\n".write(toFile: shared + "/staged/word.txt", atomically: true, encoding: .utf8)
            try await cluster.restartCoordinator()

            let summary = try await waitForEnd(of: run, in: cluster, timeout: .seconds(60))
            #expect(summary["status"] as? String == "completed", "\(summary)")
            #expect(steps(of: summary)["read"]?.attempts == 2, "\(summary)")
            #expect(Self.files(under: shared + "/seen")[run + ".read.txt"] == "before\n")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}
