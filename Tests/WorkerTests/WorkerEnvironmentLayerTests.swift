import Foundation
import Protocol
import TestKit
import Testing
import Worker

/// Steps in a shared Python environment, through a real worker and real processes: an interpreter
/// the environments file maps to runs in its own environment, and a step's `pip install` stays in
/// its attempt, whether the environment was built by the worker or mapped.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct WorkerEnvironmentLayerTests {
    let execution = WorkerExecutionTests()

    /// Runs `command` in `setup` as attempt `id` and returns its report and log.
    func attempt(
        _ id: String, _ command: String, in setup: DispatchEnvironment, harness: inout WorkerExecutionTests.Harness
    ) async throws -> (report: AttemptFinished, log: String) {
        // PIP_REQUIRE_VIRTUALENV: should a step's pip ever reach the worker's own Python (no
        // virtual environment), it refuses instead of changing this machine's Python.
        let dispatch = Dispatch(
            attemptID: id, runID: "r", step: id, command: [.text(command)], environment: ["PIP_REQUIRE_VIRTUALENV": "true"],
            environmentSetup: setup
        )
        harness.network.coordinator.send(execution.coordinator.make(.dispatch(dispatch)), to: harness.peer)
        var log = ""
        while let message = await harness.next() {
            switch message.payload {
            case .attemptFinished(let report): return (report, log)
            case .logChunk: log += String(decoding: message.bulk, as: UTF8.self)
            default: break
            }
        }
        throw PythonFixtures.FixtureError(description: "the worker stopped before attempt \(id) finished; log: \(log)")
    }

    /// A probe package the worker's python3 lacks, in a fresh virtual environment of the test's.
    static func mappedEnvironment(in directory: String) async throws -> String {
        let wheel = try await offPool { try PythonFixtures.wheel("conduitprobe", version: "1.0", value: "venv-1.0", in: directory) }
        let venv = directory + "/user-venv"
        try await offPool { try PythonFixtures.virtualEnvironment(at: venv, wheels: [wheel]) }
        let lacks = await (try? offPool { try PythonFixtures.run(["python3", "-c", "import conduitprobe"]) }) == nil
        #expect(lacks, "the worker's python3 must lack the probe for this test to mean anything")
        return venv
    }

    @Test func aStepMappedToAVirtualEnvironmentRunsInItWithItsPackagesAndItsPip() async throws {
        try await execution.withWorker(slots: 1, silence: .seconds(300)) { harness in
            let venv = try await Self.mappedEnvironment(in: harness.directory)
            let setup = DispatchEnvironment(label: "azureml:user-venv:1", kind: .interpreter, python: venv + "/bin/python", digest: String(repeating: "3", count: 64))
            let output = harness.directory + "/seen"
            let command = """
                python -c 'import conduitprobe, sys; print(conduitprobe.VALUE); print(sys.base_prefix)' > \(output) && pip --version >> \(output)
                """
            let (report, log) = try await attempt("mapped", command, in: setup, harness: &harness)
            #expect(report.outcome == .succeeded, "\(report) \(log)")
            let seen = (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            #expect(seen.first == "venv-1.0", "the venv's own package is importable: \(seen) \(log)")
            let base = try await offPool { try PythonFixtures.run([venv + "/bin/python", "-c", "import sys; print(sys.base_prefix)"]) }
            #expect(seen.dropFirst().first == base, "\(seen)")
            #expect(seen.last?.contains(venv + "/lib/") == true, "pip is the venv's own: \(seen)")
        }
    }

    enum Shared: String, CaseIterable, Sendable {
        case built, mapped
    }

    @Test(arguments: Shared.allCases)
    func aStepsPipInstallStaysInItsAttempt(_ shared: Shared) async throws {
        try await execution.withWorker(slots: 1, silence: .seconds(300)) { harness in
            let wheels = harness.directory + "/wheels"
            try FileManager.default.createDirectory(atPath: wheels, withIntermediateDirectories: true)
            let extra = try await offPool { try PythonFixtures.wheel("conduitextra", version: "1.0", value: "extra", in: wheels) }
            let older = try await offPool { try PythonFixtures.wheel("conduitprobe", version: "0.9", value: "layer-0.9", in: wheels) }
            let setup: DispatchEnvironment
            let sharedDirectory: String
            switch shared {
            case .built:
                let directory = harness.directory
                let wheel = try await offPool { try PythonFixtures.wheel("conduitprobe", version: "1.0", value: "venv-1.0", in: directory) }
                setup = DispatchEnvironment(label: "azureml:built:1", kind: .virtualEnvironment, requirements: [wheel], digest: String(repeating: "4", count: 64))
                sharedDirectory = harness.directory + "/envs/" + setup.digest
                // Built by another process on the same work directory: the worker finds it ready.
                let builds = EnvironmentBuilds(root: harness.directory + "/envs", baseEnvironment: ProcessInfo.processInfo.environment)
                _ = try await builds.prepare(setup, log: { _ in }).get()
            case .mapped:
                sharedDirectory = try await Self.mappedEnvironment(in: harness.directory)
                setup = DispatchEnvironment(label: "azureml:user-venv:1", kind: .interpreter, python: sharedDirectory + "/bin/python", digest: String(repeating: "5", count: 64))
            }
            let shared = sharedDirectory
            let before = try await offPool { try PythonFixtures.treeDigest(of: shared) }

            let seen = harness.directory + "/seen"
            let install = """
                pip install --no-index --no-deps --disable-pip-version-check \(extra) \(older) && \
                python -c 'import conduitextra, conduitprobe; print(conduitextra.VALUE, conduitprobe.VALUE)' > \(seen)
                """
            let (first, firstLog) = try await attempt("install", install, in: setup, harness: &harness)
            #expect(first.outcome == .succeeded, "\(first) \(firstLog)")
            #expect((try? String(contentsOfFile: seen, encoding: .utf8)) == "extra layer-0.9\n", "the attempt sees what it installed first: \(firstLog)")
            let after = try await offPool { try PythonFixtures.treeDigest(of: shared) }
            #expect(after == before, "the shared environment is as it was: \(firstLog)")

            let check = """
                python - > \(seen) <<'PY'
                import conduitprobe
                try:
                    import conduitextra
                    extra = "present"
                except ModuleNotFoundError:
                    extra = "absent"
                print(extra, conduitprobe.VALUE)
                PY
                """
            let (second, secondLog) = try await attempt("after", check, in: setup, harness: &harness)
            #expect(second.outcome == .succeeded, "\(second) \(secondLog)")
            #expect((try? String(contentsOfFile: seen, encoding: .utf8)) == "absent venv-1.0\n", "the next attempt sees the shared environment as built: \(secondLog)")
        }
    }
}
