import Foundation
import TestKit
import Testing

/// `az ml` habits, through the built binary: `--set KEY=VALUE` on the create commands changes the
/// file before it is registered, argument errors exit 2, and schedule files are named as such.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct AzureCLIHabitsTests {
    func conduit(_ arguments: [String], home: String) async throws -> CLIResult {
        try await runEmbedded(arguments, home: home, directory: home)
    }

    @Test func componentCreateAppliesSetBeforeRegistering() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-create-set")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try RegistryCommandTests.write([
            "say.yml": """
                type: command
                name: say
                version: 1
                inputs:
                  word: {type: string, default: hello}
                outputs:
                  out: {type: uri_folder}
                command: echo ${{inputs.word}} > ${{outputs.out}}/said.txt
                """,
        ], in: home)
        let created = try await conduit([
            "component", "create", "--file", "say.yml", "--set", "version=3", "--set", "inputs.word.default=bye",
            "--set", "description=says bye", "--registry", "r",
        ], home: home)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("registered component say version 3"), "\(created.stdout)")
        let registered = try String(contentsOfFile: home + "/r/workspace/components/say/3/say.yml", encoding: .utf8)
        #expect(registered.contains("default: bye") && registered.contains("description: says bye"), "\(registered)")
        #expect(try String(contentsOfFile: home + "/say.yml", encoding: .utf8).contains("default: hello"), "the file itself is untouched")
        // The same command again changes nothing: the changed definition is written out the same way.
        let again = try await conduit([
            "component", "create", "--file", "say.yml", "--set", "version=3", "--set", "inputs.word.default=bye",
            "--set", "description=says bye", "--registry", "r",
        ], home: home)
        #expect(again.status == 0 && again.stdout.contains("identical content"), "\(again.stdout)\(again.stderr)")

        // What the reader refuses in a file it refuses in an overridden value, naming --set.
        let badName = try await conduit(["component", "create", "--file", "say.yml", "--set", "name=Say", "--registry", "r"], home: home)
        #expect(badName.status == 2)
        #expect(badName.stderr.contains("component name 'Say' must start with a lowercase letter"), "\(badName.stderr)")
        let notPair = try await conduit(["component", "create", "--file", "say.yml", "--set", "version", "--registry", "r"], home: home)
        #expect(notPair.status == 2)
        #expect(notPair.stderr.contains("'version' is not KEY=VALUE"), "\(notPair.stderr)")
    }

    @Test func dataCreateAppliesSetBeforeRegistering() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-create-set")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try RegistryCommandTests.write([
            "data.yml": "name: rows\ntype: uri_folder\npath: ./first\n",
            "first/rows.txt": "1\n",
            "second/rows.txt": "2\n",
        ], in: home)
        let created = try await conduit(["data", "create", "--file", "data.yml", "--set", "path=./second", "--set", "version=5", "--registry", "r"], home: home)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("registered data rows version 5"), "\(created.stdout)")
        let content = try String(contentsOfFile: home + "/r/workspace/data/rows/5/content/rows.txt", encoding: .utf8)
        #expect(content == "2\n")
    }

    /// Usage errors (ArgumentParser's, and the commands' own validation) exit 2; help and version 0.
    @Test func argumentErrorsExitTwo() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-create-set")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let unknown = try await conduit(["component", "create", "--file", "say.yml", "--frobnicate"], home: home)
        #expect(unknown.status == 2, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("Unknown option '--frobnicate'") && unknown.stderr.contains("Usage:"), "\(unknown.stderr)")
        let missing = try await conduit(["component", "create"], home: home)
        #expect(missing.status == 2 && missing.stderr.contains("Missing expected argument '--file <FILE>'"), "\(missing.stderr)")
        let subcommand = try await conduit(["frobnicate"], home: home)
        #expect(subcommand.status == 2, "\(subcommand.stderr)")
        let validation = try await conduit(["runs", "prune", "--older-than", "2w"], home: home)
        #expect(validation.status == 2 && validation.stderr.contains("unknown unit"), "\(validation.stderr)")
        let help = try await conduit(["component", "create", "--help"], home: home)
        #expect(help.status == 0 && help.stdout.contains("--set <KEY=VALUE>"), "\(help.stdout)")
        let version = try await conduit(["--version"], home: home)
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version.stderr)")
    }

    /// validate, run and submit refuse a schedule file, saying what it is.
    @Test func scheduleFilesAreRefusedAsSchedules() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-schedule")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try RegistryCommandTests.write([
            "nightly.yml": "$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json\nname: nightly\ntrigger:\n  type: cron\n  expression: \"0 2 * * *\"\ncreate_job: ./pipeline.yml\n",
        ], in: home)
        for command in [["validate"], ["run"], ["submit", "--coordinator-url", "http://127.0.0.1:9"]] {
            let result = try await conduit(command + ["nightly.yml"], home: home)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("nightly.yml:4:3: trigger: this is a schedule file (it has trigger:)"), "\(command): \(result.stderr)")
            #expect(result.stderr.contains("schedules are not supported yet"), "\(command): \(result.stderr)")
        }
    }
}
