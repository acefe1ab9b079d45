import Foundation
import TestKit
import Testing

/// `conduit explain` on steps whose registered component version moved between runs.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RegistryExplainTests {
    @Test func explainSaysWhenLatestMovedToAnotherVersion() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let registry = work + "/registry"
            try RegistryCommandTests.write([
                "say.yml": "type: command\nname: say\noutputs:\n  out: {type: uri_folder}\ncommand: echo one > ${{outputs.out}}/said.txt\n",
                "pipeline.yml": "type: pipeline\njobs:\n  speak:\n    component: azureml:say@latest\n",
            ], in: work)
            let register = { (version: String) async throws -> CLIResult in
                try await cluster.cli(["component", "create", "--file", work + "/say.yml", "--version", version, "--registry", registry])
            }
            #expect(try await register("1").status == 0)
            let first = try await cluster.cli(["submit", work + "/pipeline.yml", "--registry", registry, "--wait", "--json"])
            #expect(first.status == 0, "\(first.stderr)")

            // Version 2 has identical content: the step is reused, and explain names the move.
            #expect(try await register("2").status == 0)
            let second = try await cluster.cli(["submit", work + "/pipeline.yml", "--registry", registry, "--wait", "--json"])
            let secondSummary = try second.json()
            #expect(steps(of: secondSummary)["speak"]?.reused == true, "a new version with the same content still reuses")
            let reused = try await cluster.cli(["explain", try #require(secondSummary["run"] as? String), "speak", "--json"])
            #expect(try reused.json()["differences"] as? [String] == ["component: azureml:say:1 → azureml:say:2"], "\(reused.stdout)")

            // Version 3 changes the command: the step runs, and explain gives both reasons.
            try "type: command\nname: say\noutputs:\n  out: {type: uri_folder}\ncommand: echo two > ${{outputs.out}}/said.txt\n"
                .write(toFile: work + "/say.yml", atomically: true, encoding: .utf8)
            #expect(try await register("3").status == 0)
            let third = try await cluster.cli(["submit", work + "/pipeline.yml", "--registry", registry, "--wait", "--json"])
            let thirdSummary = try third.json()
            #expect(steps(of: thirdSummary)["speak"]?.reused == false)
            let ran = try await cluster.cli(["explain", try #require(thirdSummary["run"] as? String), "speak"])
            #expect(ran.stdout.contains("- component: azureml:say:1 → azureml:say:3"), "\(ran.stdout)")
            #expect(ran.stdout.contains("- command: the command text changed"), "\(ran.stdout)")
        }
    }
}
