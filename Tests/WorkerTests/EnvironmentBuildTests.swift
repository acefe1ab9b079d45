import Foundation
import Protocol
import TestKit
import Testing
@testable import Worker

/// Virtual environments built by `EnvironmentBuilds`, for real and offline (no PyPI): an empty one,
/// one from a wheel the test builds, and a failing one.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct EnvironmentBuildTests {
    /// Collects build output.
    actor LogLines {
        var text = ""
        func append(_ line: String) { text += line }
    }

    static func python(_ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func concurrentAttemptsOfOneEnvironmentBuildItOnceAndAnotherProcessReusesIt() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-envs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let setup = DispatchEnvironment(label: "azureml:empty:1", kind: .virtualEnvironment, digest: String(repeating: "e", count: 64))
        let builds = EnvironmentBuilds(root: directory, baseEnvironment: ProcessInfo.processInfo.environment)
        let first = LogLines()
        let second = LogLines()
        async let a = builds.prepare(setup) { await first.append($0) }
        async let b = builds.prepare(setup) { await second.append($0) }
        let results = await [a, b]
        let prepared = try results.map { try $0.get() }
        #expect(prepared[0] == prepared[1])
        #expect(await builds.startedBuilds == [setup.digest: 1])
        let environmentDirectory = directory + "/" + setup.digest
        #expect(prepared[0].environmentDirectory == environmentDirectory)
        #expect(prepared[0].interpreter == environmentDirectory + "/bin/python")
        #expect(FileManager.default.fileExists(atPath: environmentDirectory + "/.conduit-ready"))
        let logs = await first.text + second.text
        #expect(logs.components(separatedBy: "building the environment azureml:empty:1").count == 2, "\(logs)")
        #expect(logs.contains("waiting for the environment azureml:empty:1"), "\(logs)")
        // The step's python is the environment's: its packages come from there.
        let facts = try #require(prepared[0].facts)
        #expect(!facts.siteDirectories.isEmpty && facts.siteDirectories.allSatisfy { $0.hasPrefix(environmentDirectory + "/") }, "\(facts)")
        #expect(!facts.hasPip, "built without pip: it has no requirements")
        // Another worker process on the same work directory finds it built.
        let other = EnvironmentBuilds(root: directory, baseEnvironment: ProcessInfo.processInfo.environment)
        let otherLog = LogLines()
        _ = try await other.prepare(setup) { await otherLog.append($0) }.get()
        #expect(await otherLog.text.isEmpty)
    }

    @Test func twoWorkerProcessesSharingAWorkDirectoryBuildOnce() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-envs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let setup = DispatchEnvironment(label: "azureml:shared:1", kind: .virtualEnvironment, digest: String(repeating: "9", count: 64))
        // Two instances stand for two processes: nothing is shared between them but the directory
        // (flock locks belong to each open file, so they exclude each other within one process too).
        let one = EnvironmentBuilds(root: directory, baseEnvironment: ProcessInfo.processInfo.environment)
        let two = EnvironmentBuilds(root: directory, baseEnvironment: ProcessInfo.processInfo.environment)
        let logOne = LogLines()
        let logTwo = LogLines()
        async let a = one.prepare(setup) { await logOne.append($0) }
        async let b = two.prepare(setup) { await logTwo.append($0) }
        let results = await [a, b]
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        let logs = await logOne.text + logTwo.text
        #expect(logs.components(separatedBy: "building the environment azureml:shared:1").count == 2, "built once: \(logs)")
    }

    @Test func requirementsAreInstalledFromALocalWheelAndAFailedInstallNamesTheEnvironment() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-envs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A minimal wheel, written with zipfile: a module and the metadata pip needs.
        let wheel = directory + "/conduitprobe-1.0-py3-none-any.whl"
        let script = """
        import zipfile, sys
        files = {
            "conduitprobe.py": "VALUE = 42\\n",
            "conduitprobe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: conduitprobe\\nVersion: 1.0\\n",
            "conduitprobe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: conduit-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
        }
        record = "".join(f"{name},,\\n" for name in files) + "conduitprobe-1.0.dist-info/RECORD,,\\n"
        with zipfile.ZipFile(sys.argv[1], "w") as archive:
            for name, text in files.items():
                archive.writestr(name, text)
            archive.writestr("conduitprobe-1.0.dist-info/RECORD", record)
        """
        _ = try Self.python(["python3", "-c", script, wheel])
        #expect(FileManager.default.fileExists(atPath: wheel))
        let builds = EnvironmentBuilds(root: directory + "/envs", baseEnvironment: ProcessInfo.processInfo.environment)
        let good = DispatchEnvironment(label: "azureml:probe:1", kind: .virtualEnvironment, requirements: [wheel], digest: String(repeating: "a", count: 64))
        let log = LogLines()
        let prepared = try await builds.prepare(good) { await log.append($0) }.get()
        try FileManager.default.createDirectory(atPath: directory + "/attempt", withIntermediateDirectories: true)
        let layer = try #require(try await AttemptLayer.create(
            over: prepared, in: directory + "/attempt", label: good.label, baseEnvironment: ProcessInfo.processInfo.environment
        ).get())
        let environment = layer.applied(to: ProcessInfo.processInfo.environment)
        #expect(try Self.python(["python", "-c", "import conduitprobe; print(conduitprobe.VALUE)"], environment: environment) == "42")
        #expect(await log.text.contains("pip install"))

        let bad = DispatchEnvironment(
            label: "azureml:broken:1", kind: .virtualEnvironment, requirements: [directory + "/missing-1.0-py3-none-any.whl"],
            digest: String(repeating: "b", count: 64)
        )
        let failed = await builds.prepare(bad) { _ in }
        guard case .failure(let failure) = failed else {
            Issue.record("a missing wheel was installed")
            return
        }
        #expect(failure.message.contains("azureml:broken:1"))
        #expect(failure.message.contains("pip install exited with status"))
        #expect(failure.message.contains("conduit logs"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/envs/" + bad.digest), "a failed build leaves nothing to reuse")
    }

    @Test func aMissingInterpreterOrPythonVersionFailsWithoutBuilding() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-envs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builds = EnvironmentBuilds(root: directory, baseEnvironment: ProcessInfo.processInfo.environment)
        let interpreter = DispatchEnvironment(label: "azureml:gone:1", kind: .interpreter, python: "/nonexistent/python", digest: String(repeating: "c", count: 64))
        guard case .failure(let missing) = await builds.prepare(interpreter, log: { _ in }) else {
            Issue.record("a missing interpreter was accepted")
            return
        }
        #expect(missing.message.contains("/nonexistent/python"))
        let version = DispatchEnvironment(label: "azureml:future:1", kind: .virtualEnvironment, python: "9.99", digest: String(repeating: "d", count: 64))
        guard case .failure(let future) = await builds.prepare(version, log: { _ in }) else {
            Issue.record("python9.99 was found")
            return
        }
        #expect(future.message.contains("python9.99"))
        #expect(future.message.contains("azureml:future:1"))
    }

    @Test func anInterpreterMappingIsUsedWhereItIsUnderTheAttemptsLayer() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-envs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let real = try Self.python(["python3", "-c", "import sys, os; print(os.path.realpath(sys.executable))"])
        let prefix = try Self.python([real, "-c", "import sys; print(sys.prefix)"])
        let builds = EnvironmentBuilds(root: directory + "/envs", baseEnvironment: ProcessInfo.processInfo.environment)
        let setup = DispatchEnvironment(label: "azureml:local:1", kind: .interpreter, python: real, digest: String(repeating: "f", count: 64))
        let prepared = try await builds.prepare(setup, log: { _ in }).get()
        #expect(prepared.interpreter == real)
        #expect(prepared.facts?.prefix == prefix)
        #expect(!FileManager.default.fileExists(atPath: directory + "/envs/" + setup.digest), "nothing is built or linked for it")
        let layer = try #require(try await AttemptLayer.create(
            over: prepared, in: directory, label: setup.label, baseEnvironment: ProcessInfo.processInfo.environment
        ).get())
        var base = ProcessInfo.processInfo.environment
        base["PATH"] = "/bin"  // no python here: only the layer provides one
        let environment = layer.applied(to: base)
        let bin = (real as NSString).deletingLastPathComponent
        #expect(environment["PATH"] == directory + "/python-layer/bin:" + bin + ":/bin")
        #expect(environment["VIRTUAL_ENV"] == directory + "/python-layer")
        #expect(try Self.python(["python", "-c", "import sys; print(sys.base_prefix)"], environment: environment) == prefix)
    }

    @Test func aLayersPathFileAndPipScriptQuoteWhatTheyName() {
        #expect(AttemptLayer.pathFileText(adding: ["/a/site-packages", "/it's/here"])
            == "import site; site.addsitedir('/a/site-packages'); site.addsitedir('/it\\'s/here')\n")
        #expect(AttemptLayer.pathFileText(adding: ["/bad\nline"]) == nil)
        let own = AttemptLayer.pipScript(layer: "/w/a b", sharedHasPip: true, workerPython: "/usr/bin/python3")
        #expect(own.hasPrefix("#!/bin/sh\n") && own.contains("exec '/w/a b/bin/python' -m pip \"$@\""), "\(own)")
        let borrowed = AttemptLayer.pipScript(layer: "/w/l", sharedHasPip: false, workerPython: "/usr/bin/python3")
        #expect(borrowed.contains("exec /usr/bin/python3 -m pip --python /w/l/bin/python \"$@\""), "\(borrowed)")
        let layer = AttemptLayer(directory: "/w/l", sharedBinDirectory: "/opt/env/bin", condaPrefix: "/opt/env")
        let applied = layer.applied(to: ["PATH": "/usr/bin", "PYTHONHOME": "/x", "VIRTUAL_ENV": "/other"])
        #expect(applied == ["PATH": "/w/l/bin:/opt/env/bin:/usr/bin", "VIRTUAL_ENV": "/w/l", "CONDA_PREFIX": "/opt/env"])
    }
}
