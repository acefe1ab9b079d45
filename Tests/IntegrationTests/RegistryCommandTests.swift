import Foundation
import TestKit
import Testing

/// `conduit component` and `conduit data`, through the built binary: registering, listing, showing,
/// and pipelines that use what was registered.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RegistryCommandTests {
    /// Runs `conduit` with `CONDUIT_HOME` set to `home` (so nothing touches the user's own registry).
    func conduit(_ arguments: [String], home: String, environment extra: [String: String] = [:]) async throws -> CLIResult {
        try await runEmbedded(arguments, home: home, environment: extra, directory: home)
    }

    static func write(_ files: [String: String], in directory: String) throws {
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    static let component = """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        type: command
        name: shout
        display_name: Shout
        inputs:
          word: {type: string, default: hello}
        outputs:
          said: {type: uri_folder}
        code: ./src
        environment:
          image: python:3.11
          conda_file: ./env/conda.yml
        command: python3 shout.py ${{inputs.word}} ${{outputs.said}}
        """

    @Test func componentsAreSnapshottedVersionedListedAndShown() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-registry")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try Self.write([
            "shout.yml": Self.component,
            "src/shout.py": "import sys, pathlib\npathlib.Path(sys.argv[2], 'said.txt').write_text(sys.argv[1].upper())\n",
            "src/.amlignore": "*.tmp\n",
            "src/scratch.tmp": "not registered\n",
            "env/conda.yml": "name: shout\ndependencies: [python=3.11]\n",
        ], in: home)
        let registry = home + "/team-registry"

        let first = try await conduit(["component", "create", "--file", "shout.yml", "--registry", registry], home: home)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("registered component shout version 1: use it as azureml:shout:1"), "\(first.stdout)")
        let versionOne = registry + "/workspace/components/shout/1"
        #expect(FileManager.default.fileExists(atPath: versionOne + "/code/shout.py"))
        #expect(!FileManager.default.fileExists(atPath: versionOne + "/code/scratch.tmp"), ".amlignore is honoured")
        #expect(try String(contentsOfFile: versionOne + "/env/conda.yml", encoding: .utf8).contains("python=3.11"), "the environment's conda file is registered beside the definition")

        let again = try await conduit(["component", "create", "--file", "shout.yml", "--registry", registry, "--version", "1"], home: home)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("already registered with identical content; nothing changed"), "\(again.stdout)")

        // Editing the source changes nothing registered; registering it again makes version 2.
        try "import sys, pathlib\npathlib.Path(sys.argv[2], 'said.txt').write_text(sys.argv[1] + '!')\n"
            .write(toFile: home + "/src/shout.py", atomically: true, encoding: .utf8)
        #expect(try String(contentsOfFile: versionOne + "/code/shout.py", encoding: .utf8).contains("upper()"))
        let second = try await conduit(["component", "create", "--file", "shout.yml", "--registry", registry], home: home)
        #expect(second.stdout.contains("registered component shout version 2"), "\(second.stdout)\(second.stderr)")

        let conflict = try await conduit(["component", "create", "--file", "shout.yml", "--registry", registry, "--version", "1"], home: home)
        #expect(conflict.status == 2)
        #expect(conflict.stderr.contains("component shout version 1 is already registered with different content"), "\(conflict.stderr)")
        #expect(conflict.stderr.contains("--version 3"), "\(conflict.stderr)")

        let list = try await conduit(["component", "list", "--registry", registry, "--json"], home: home)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries.first?["name"] as? String == "shout")
        #expect(entries.first?["versions"] as? [String] == ["1", "2"])
        #expect(entries.first?["latest"] as? String == "2")
        let table = try await conduit(["component", "list", "--registry", registry], home: home)
        #expect(table.stdout.hasPrefix("NAME"), "\(table.stdout)")
        #expect(table.stdout.contains("shout  1,2"), "\(table.stdout)")

        let show = try await conduit(["component", "show", "shout:1", "--registry", registry, "--json"], home: home)
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        #expect(shown["reference"] as? String == "azureml:shout:1")
        #expect((shown["definition"] as? String)?.contains("command: python3 shout.py") == true)
        let missing = try await conduit(["component", "show", "shout:7", "--registry", registry], home: home)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("component 'shout' has no version '7' (versions: 1, 2)"), "\(missing.stderr)")

        // A pipeline resolves @latest; the registry also comes from $CONDUIT_REGISTRY.
        try Self.write(["pipeline.yml": """
            type: pipeline
            jobs:
              loud:
                component: azureml:shout@latest
                inputs: {word: hey}
            """], in: home)
        let validate = try await conduit(["validate", "pipeline.yml", "--json"], home: home, environment: ["CONDUIT_REGISTRY": registry])
        #expect(validate.status == 0, "\(validate.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Any])
        let step = try #require((plan["steps"] as? [[String: Any]])?.first)
        #expect(step["component"] as? String == "azureml:shout:2")
        #expect(step["codeDirectory"] as? String == registry + "/workspace/components/shout/2/code")
        let unknown = try await conduit(["validate", "pipeline.yml", "--registry", home + "/empty"], home: home)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("pipeline.yml:4:16: jobs.loud.component: no component asset named 'shout' (none is registered)"), "\(unknown.stderr)")
    }

    @Test func invalidComponentsAreRefusedAtCreateTime() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-registry")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try Self.write([
            "bad-name.yml": "type: command\nname: Shout-Loud\ncommand: echo hi\n",
            "no-command.yml": "type: command\nname: quiet\n",
            "inner.yml": "type: pipeline\nname: inner\njobs:\n  a:\n    component: ./quiet.yml\n",
            "quiet.yml": "type: command\nname: quiet\ncommand: echo quiet\n",
            "standalone.yml": "type: pipeline\nname: standalone\njobs:\n  a:\n    component: azureml:quiet@latest\n  b:\n    command: echo b\n",
            "use.yml": "type: pipeline\njobs:\n  outer:\n    type: pipeline\n    component: azureml:standalone:1\n",
        ], in: home)
        let badName = try await conduit(["component", "create", "--file", "bad-name.yml", "--registry", "r"], home: home)
        #expect(badName.status == 2)
        #expect(badName.stderr.contains("bad-name.yml:2:7: name: component name 'Shout-Loud' must start with a lowercase letter"), "\(badName.stderr)")
        let noCommand = try await conduit(["component", "create", "--file", "no-command.yml", "--registry", "r"], home: home)
        #expect(noCommand.status == 2)
        #expect(noCommand.stderr.contains("needs command:"), "\(noCommand.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home + "/r/workspace/components/quiet"), "nothing is written for a refused component")
        let pipeline = try await conduit(["component", "create", "--file", "inner.yml", "--registry", "r"], home: home)
        #expect(pipeline.status == 2)
        #expect(pipeline.stderr.contains("inner.yml:5:16: jobs.a.component: the component file './quiet.yml' is a local path; a registered pipeline component is stored alone"), "\(pipeline.stderr)")
        let badRegistry = try await conduit(["component", "create", "--file", "inner.yml", "--registry-name", "../x"], home: home)
        #expect(badRegistry.status != 0)

        // A pipeline component that names only registered components is registered and expands.
        let unknownChild = try await conduit(["component", "create", "--file", "standalone.yml", "--registry", "r"], home: home)
        #expect(unknownChild.status == 2)
        #expect(unknownChild.stderr.contains("no component asset named 'quiet'"), "\(unknownChild.stderr)")
        #expect(try await conduit(["component", "create", "--file", "quiet.yml", "--registry", "r"], home: home).status == 0)
        let standalone = try await conduit(["component", "create", "--file", "standalone.yml", "--registry", "r"], home: home)
        #expect(standalone.status == 0, "\(standalone.stderr)")
        let validate = try await conduit(["validate", "use.yml", "--registry", "r"], home: home)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stdout.contains("outer/a") && validate.stdout.contains("outer/b"), "\(validate.stdout)")
    }

    @Test func registeredDataIsCopiedByContentAndFeedsARun() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-registry")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try Self.write([
            "rows/a.txt": "first\n",
            "rows/sub/b.txt": "second\n",
            "data.yml": "name: rows\ndescription: two rows\ntype: uri_folder\npath: ./rows\n",
            "pipeline.yml": """
                type: pipeline
                outputs:
                  joined: {type: uri_folder}
                jobs:
                  join:
                    command: cat ${{inputs.rows}}/a.txt ${{inputs.rows}}/sub/b.txt > ${{outputs.joined}}/all.txt
                    inputs:
                      rows: {type: uri_folder, path: "azureml:rows@latest"}
                    outputs:
                      joined: ${{parent.outputs.joined}}
                """,
        ], in: home)
        let created = try await conduit(["data", "create", "--file", "data.yml", "--json"], home: home)
        #expect(created.status == 0, "\(created.stderr)")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])
        #expect(record["reference"] as? String == "azureml:rows:1")
        let again = try await conduit(["data", "create", "--file", "data.yml", "--version", "1"], home: home)
        #expect(again.stdout.contains("already registered with identical content"), "\(again.stdout)\(again.stderr)")

        // The registered copy is what runs, whatever happens to the source afterwards.
        try "changed\n".write(toFile: home + "/rows/a.txt", atomically: true, encoding: .utf8)
        let run = try await conduit(["run", "pipeline.yml", "--json", "--output-dir", home + "/out"], home: home)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOfFile: home + "/out/joined/all.txt", encoding: .utf8) == "first\nsecond\n")

        let changed = try await conduit(["data", "create", "--file", "data.yml", "--version", "1"], home: home)
        #expect(changed.status == 2)
        #expect(changed.stderr.contains("data rows version 1 is already registered with different content"), "\(changed.stderr)")
        let list = try await conduit(["data", "list"], home: home)
        #expect(list.stdout.contains("rows"), "\(list.stdout)")
        let show = try await conduit(["data", "show", "rows"], home: home)
        #expect(show.stdout.contains("type: uri_folder") && show.stdout.contains("description: two rows"), "\(show.stdout)")

        // A named registry is its own namespace, referenced by URI.
        let shared = try await conduit(["data", "create", "--file", "data.yml", "--registry-name", "shared"], home: home)
        #expect(shared.stdout.contains("use it as azureml://registries/shared/data/rows/versions/1"), "\(shared.stdout)\(shared.stderr)")
        try Self.write(["shared.yml": """
            type: pipeline
            jobs:
              look:
                command: ls ${{inputs.rows}}
                inputs:
                  rows: {path: "azureml://registries/shared/data/rows/labels/latest"}
            """], in: home)
        let validate = try await conduit(["validate", "shared.yml", "--json"], home: home)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stdout.contains("registry/registries/shared/data/rows/1/content"), "\(validate.stdout)")
    }

    /// Several people registering the same version at once: one version results; identical content
    /// is a no-op for the others, different content is refused for all but one.
    @Test func concurrentCreatesOfOneVersionLeaveOneVersion() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-registry")
        defer { try? FileManager.default.removeItem(atPath: home) }
        var files: [String: String] = [:]
        for index in 0..<6 {
            files["same\(index).yml"] = "type: command\nname: race\ncommand: echo same\n"
            files["other\(index).yml"] = "type: command\nname: clash\ncommand: echo \(index)\n"
        }
        try Self.write(files, in: home)
        let results = try await withThrowingTaskGroup(of: (String, CLIResult).self) { group in
            for name in files.keys {
                group.addTask { (name, try await self.conduit(["component", "create", "--file", name, "--version", "1", "--registry", "r"], home: home)) }
            }
            var all: [String: CLIResult] = [:]
            for try await (name, result) in group { all[name] = result }
            return all
        }
        let same = results.filter { $0.key.hasPrefix("same") }.values
        #expect(same.allSatisfy { $0.status == 0 }, "\(same.map(\.stderr))")
        #expect(same.filter { $0.stdout.contains("registered component race version 1") }.count == 1, "\(same.map(\.stdout))")
        let other = results.filter { $0.key.hasPrefix("other") }.values
        #expect(other.filter { $0.status == 0 }.count == 1, "\(other.map(\.stderr))")
        #expect(other.filter { $0.status == 2 && $0.stderr.contains("already registered with different content") }.count == 5, "\(other.map(\.stderr))")
        let left = try FileManager.default.contentsOfDirectory(atPath: home + "/r/workspace/components").filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "no staging folder is left behind: \(left)")
    }
}
