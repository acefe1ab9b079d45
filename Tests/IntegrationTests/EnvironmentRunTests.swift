import Foundation
import TestKit
import Testing

/// `conduit run` with step environments: built by the worker, mapped by an environments file, part
/// of the cache key.
extension EmbeddedRunTests {
    /// This machine's python3, resolved (an environments file names interpreters by absolute path).
    static var python3: String {
        let candidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
    }

    @Test func stepsRunInTheirMappedEnvironmentAndRemappingReRunsOnlyThem() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = home + "/pipeline.yml"
        try """
            type: pipeline
            jobs:
              train:
                command: python -c "import sys; open('\(home)/prefix', 'w').write(next((p for p in sys.path if '/worker/envs/' in p), sys.base_prefix))"
                environment: azureml:sklearn-env:2
              plain:
                command: echo plain
            """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let environments = home + "/environments.yml"
        try "sklearn-env: {requirements: []}\n".write(toFile: environments, atomically: true, encoding: .utf8)

        let first = try await run(["run", pipeline, "--json"], home: home, environment: ["CONDUIT_ENVIRONMENTS": environments])
        #expect(first.status == 0, "\(first.stderr)")
        let prefix = try String(contentsOfFile: home + "/prefix", encoding: .utf8)
        #expect(prefix.hasPrefix(home + "/worker/envs/"), "the step's packages are the environment's: \(prefix)")
        let digest = prefix.dropFirst((home + "/worker/envs/").count).prefix { $0 != "/" }
        let environmentDirectory = home + "/worker/envs/" + digest
        #expect(FileManager.default.fileExists(atPath: environmentDirectory + "/.conduit-ready"), "\(environmentDirectory)")

        // The same mapping: everything is reused. A new mapping for the name: only its step runs.
        let second = try await run(["run", pipeline, "--json"], home: home, environment: ["CONDUIT_ENVIRONMENTS": environments])
        #expect(steps(of: try second.json()).values.allSatisfy(\.reused))
        try "sklearn-env: {python: \(Self.python3)}\n".write(toFile: environments, atomically: true, encoding: .utf8)
        let remapped = try await run(["run", pipeline, "--json", "--environments", environments], home: home)
        let changed = steps(of: try remapped.json())
        #expect(remapped.status == 0, "\(remapped.stderr)")
        #expect(changed["train"]?.reused == false && changed["plain"]?.reused == true, "\(changed) \(remapped.stderr)")
        // explain (on the runs of conduit run, through --embedded) names what changed in the environment.
        let runID = try #require(try remapped.json()["run"] as? String)
        let explained = try await run(["explain", runID, "train", "--embedded"], home: home)
        #expect(explained.status == 0, "\(explained.stderr)")
        #expect(explained.stdout.contains("environment:") && explained.stdout.contains(Self.python3), "\(explained.stdout)")
    }

    /// `step run --local` replays a step in its environment, the one `conduit run` built, and reads
    /// what it logs with MLflow (written here in MLflow's file-store layout).
    @Test func aLocalReplayRunsInTheStepsEnvironmentAndReadsItsMLflowMetrics() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = home + "/pipeline.yml"
        try """
            type: pipeline
            jobs:
              train:
                command: >-
                  python -c "import os, sys;
                  open(os.environ['PREFIX_FILE'], 'w').write(next(p for p in sys.path if '/worker/envs/' in p));
                  root = os.environ['MLFLOW_TRACKING_URI'][len('file://'):] + '/0/run1/metrics';
                  os.makedirs(root, exist_ok=True);
                  open(root + '/accuracy', 'w').write('1 0.75 0\\n')"
                environment: azureml:replay-env:1
                environment_variables:
                  PREFIX_FILE: \(home)/prefix
            """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let environments = home + "/environments.yml"
        try "replay-env: {requirements: []}\n".write(toFile: environments, atomically: true, encoding: .utf8)
        let first = try await run(["run", pipeline, "--json", "--environments", environments], home: home)
        #expect(first.status == 0, "\(first.stderr)")
        let runID = try #require(try first.json()["run"] as? String)
        let built = try String(contentsOfFile: home + "/prefix", encoding: .utf8)
        #expect(built.hasPrefix(home + "/worker/envs/"), "\(built)")
        try FileManager.default.removeItem(atPath: home + "/prefix")

        let replay = try await runEmbedded(
            ["step", "run", runID, "train", "--local", "--embedded", "--dir", home + "/replay", "--json"], home: home, directory: home
        )
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try String(contentsOfFile: home + "/prefix", encoding: .utf8) == built, "the replay used the environment conduit run built")
        let metrics = try replay.json()["metrics"] as? [[String: Any]] ?? []
        let accuracy = metrics.first { $0["name"] as? String == "accuracy" }
        #expect(accuracy?["a"] as? Double == 0.75 && accuracy?["b"] as? Double == 0.75, "\(metrics)")
    }

    @Test func anEnvironmentThatCannotBeBuiltFailsTheRunNamingIt() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = home + "/pipeline.yml"
        try """
            type: pipeline
            jobs:
              train:
                command: python -c "print('never')"
                environment: azureml:future-env:1
            """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let environments = home + "/environments.yml"
        try "future-env: {requirements: [], python_version: '9.99'}\n".write(toFile: environments, atomically: true, encoding: .utf8)
        let result = try await run(["run", pipeline, "--environments", environments], home: home)
        #expect(result.status != 0)
        #expect((result.stdout + result.stderr).contains("azureml:future-env:1"), "\(result.stdout) \(result.stderr)")
        #expect((result.stdout + result.stderr).contains("python9.99"), "\(result.stdout) \(result.stderr)")
    }
}

/// Interpreters mapped in the environments file, through the built binary: the step runs in the
/// mapped virtual environment, and `validate` says what that environment lacks.
extension EmbeddedRunTests {
    /// A virtual environment at `path` (with pip) holding a module `conduitprobe` the worker's
    /// python3 lacks, installed offline from a wheel written here.
    static func probeEnvironment(at path: String, scratch: String) throws {
        let wheel = scratch + "/conduitprobe-1.0-py3-none-any.whl"
        let script = """
            import zipfile, sys
            info = "conduitprobe-1.0.dist-info"
            files = {"conduitprobe.py": "VALUE = 'from-the-venv'\\n",
                     info + "/METADATA": "Metadata-Version: 2.1\\nName: conduitprobe\\nVersion: 1.0\\n",
                     info + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: conduit-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
            with zipfile.ZipFile(sys.argv[1], "w") as archive:
                for name, text in files.items():
                    archive.writestr(name, text)
                archive.writestr(info + "/RECORD", "".join(n + ",,\\n" for n in files) + info + "/RECORD,,\\n")
            """
        for arguments in [
            ["python3", "-c", script, wheel], ["python3", "-m", "venv", path],
            [path + "/bin/python", "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", "--disable-pip-version-check", wheel],
        ] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(arguments)")
        }
    }

    @Test func aStepMappedToAVirtualEnvironmentImportsItsPackagesAndValidateNamesWhatItLacks() async throws {
        let home = try ProcessHarness.temporaryDirectory("conduit-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        try await offPool { try Self.probeEnvironment(at: home + "/venv", scratch: home) }
        let pipeline = home + "/pipeline.yml"
        try """
            type: pipeline
            jobs:
              train:
                command: python -c "import conduitprobe; open('\(home)/seen', 'w').write(conduitprobe.VALUE)"
                environment: azureml:team-env:1
              other:
                command: echo other
                environment: azureml:gone-env:1
            """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        try "dependencies:\n  - numpy=1.26\n  - pip:\n    - conduitprobe==1.0\n    - conduit-absent-package\n"
            .write(toFile: home + "/team.yml", atomically: true, encoding: .utf8)
        let environments = home + "/environments.yml"
        try """
            team-env:
              python: \(home)/venv/bin/python
              conda_file: team.yml
            gone-env:
              python: \(home)/nowhere/bin/python
            """.write(toFile: environments, atomically: true, encoding: .utf8)

        let validate = try await run(["validate", pipeline, "--environments", environments], home: home)
        #expect(validate.status == 0, "a warning, not an error: \(validate.stderr)")
        let lacks = validate.stderr.split(separator: "\n").first { $0.contains("team-env") }.map(String.init) ?? ""
        #expect(lacks.contains("cannot import numpy, conduit-absent-package"), "\(validate.stderr)")
        #expect(!lacks.contains("conduitprobe"), "\(validate.stderr)")
        #expect(validate.stderr.contains("\(home)/nowhere/bin/python, which does not exist or is not executable"), "\(validate.stderr)")

        try "team-env: {python: \(home)/venv/bin/python}\n".write(toFile: environments, atomically: true, encoding: .utf8)
        let ran = try await run(["run", pipeline, "--environments", environments], home: home)
        #expect(ran.status == 0, "\(ran.stdout) \(ran.stderr)")
        #expect((try? String(contentsOfFile: home + "/seen", encoding: .utf8)) == "from-the-venv", "\(ran.stderr)")
    }
}
