import Foundation
import TestKit

/// Pipelines written for the integration tests, created fresh in a temporary directory.
enum Fixtures {
    /// A four-step numbers pipeline with one code folder per step:
    /// `generate` → `scale` → `total`, and `describe` (independent of the chain).
    /// `generate` writes 1..count; `scale` multiplies by `factor`; `total` sums.
    static func numbersPipeline(in directory: String) throws -> String {
        let files: [String: String] = [
            "pipeline.yml": """
                $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
                type: pipeline
                display_name: numbers
                settings:
                  default_compute: azureml:cpu
                inputs:
                  count: 5
                  factor: 2
                  message: hello
                outputs:
                  total:
                    type: uri_folder
                    mode: upload
                jobs:
                  generate:
                    component: ./generate.yml
                    inputs:
                      count: ${{parent.inputs.count}}
                  scale:
                    component: ./scale.yml
                    inputs:
                      numbers: ${{parent.jobs.generate.outputs.numbers}}
                      factor: ${{parent.inputs.factor}}
                  total:
                    command: >-
                      python3 -c "import sys, pathlib; v = [int(x) for x in pathlib.Path(sys.argv[1], 'numbers.txt').read_text().split()];
                      pathlib.Path(sys.argv[2], 'total.txt').write_text(str(sum(v)) + chr(10)); print('total', sum(v))"
                      ${{inputs.scaled}} ${{outputs.total}}
                    inputs:
                      scaled: ${{parent.jobs.scale.outputs.scaled}}
                    outputs:
                      total: ${{parent.outputs.total}}
                  describe:
                    command: echo "message=${{inputs.message}}" > ${{outputs.note}}/note.txt
                    inputs:
                      message: ${{parent.inputs.message}}
                    outputs:
                      note:
                """,
            "generate.yml": """
                type: command
                name: generate
                inputs:
                  count: {type: integer, min: 1, max: 1000}
                outputs:
                  numbers: {type: uri_folder}
                code: ./generate_src
                environment: {image: python:3.11}
                command: python3 generate.py ${{inputs.count}} ${{outputs.numbers}}
                """,
            "generate_src/generate.py": """
                import pathlib, sys
                count, out = int(sys.argv[1]), pathlib.Path(sys.argv[2])
                (out / "numbers.txt").write_text(" ".join(str(i) for i in range(1, count + 1)) + "\\n")
                print("generated", count)
                """,
            "scale.yml": """
                type: command
                name: scale
                inputs:
                  numbers: {type: uri_folder}
                  factor: {type: integer, default: 1}
                outputs:
                  scaled: {type: uri_folder}
                code: ./scale_src
                environment: {image: python:3.11}
                command: python3 scale.py ${{inputs.numbers}} ${{inputs.factor}} ${{outputs.scaled}}
                """,
            "scale_src/scale.py": """
                import pathlib, sys
                numbers = [int(x) for x in pathlib.Path(sys.argv[1], "numbers.txt").read_text().split()]
                factor = int(sys.argv[2])
                pathlib.Path(sys.argv[3], "numbers.txt").write_text(" ".join(str(n * factor) for n in numbers) + "\\n")
                print("scaled by", factor)
                """,
        ]
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return directory + "/pipeline.yml"
    }

    /// Writes a one-file pipeline and returns its path.
    static func pipeline(_ text: String, named name: String = "pipeline.yml", in directory: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The acceptance pipelines shipped beside the repository, when present.
    static var acceptanceDirectory: String? {
        let path = (ProcessHarness.packageRoot() as NSString).appendingPathComponent("../shared/acceptance")
        return FileManager.default.fileExists(atPath: path) ? (path as NSString).standardizingPath : nil
    }
}

/// Step name → status/reused/attempts from a `--json` run summary.
struct StepView: Equatable {
    var status: String
    var reused: Bool
    var attempts: Int
}

func steps(of summary: [String: Any]) -> [String: StepView] {
    var result: [String: StepView] = [:]
    for case let step as [String: Any] in summary["steps"] as? [Any] ?? [] {
        guard let name = step["name"] as? String else { continue }
        result[name] = StepView(status: step["status"] as? String ?? "", reused: step["reused"] as? Bool ?? false, attempts: step["attempts"] as? Int ?? -1)
    }
    return result
}

/// Whether a process with this pid exists (and is not a zombie we own).
func processIsAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    if let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = status.lastIndex(of: ")") {
        let state = status[status.index(close, offsetBy: 2)]
        return state != "Z"
    }
    return true
}

/// Waits until a step has created `path`; fails the test after `timeout`.
func waitForFile(_ path: String, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + timeout
    while !FileManager.default.fileExists(atPath: path) {
        guard ContinuousClock.now < deadline else {
            throw HarnessError("\(path) did not appear within \(timeout): the step never started")
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// The process id a step wrote into `path` (`echo $$ > path`), or 0.
func recordedPID(at path: String) -> Int32 {
    Int32((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
}

/// Runs the `conduit` binary with `arguments` and `CONDUIT_HOME=home` (so nothing touches the user's
/// own data or registry), in `directory` when given, and waits for it to exit.
///
/// The wait happens on a thread of its own: a test waiting for the CLI must not hold a thread of the
/// cooperative pool (as many as cores), which the async tests running beside it need.
func runEmbedded(
    _ arguments: [String], home: String, environment extra: [String: String] = [:], directory: String? = nil
) async throws -> CLIResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ProcessHarness.conduitExecutable())
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "CONDUIT_REGISTRY")
    environment.removeValue(forKey: "CONDUIT_ENVIRONMENTS")
    environment.merge(extra) { _, new in new }
    environment["CONDUIT_HOME"] = home
    environment.removeValue(forKey: "CONDUIT_URL")
    // The local service this starts stops soon after the test's last run (and at once when `home` is removed).
    if environment["CONDUIT_SERVICE_IDLE_EXIT"] == nil { environment["CONDUIT_SERVICE_IDLE_EXIT"] = "20s" }
    process.environment = environment
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            // Both pipes at once: a child that fills one while the other is read must not stall.
            let errors = Locked(Data())
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                let data = err.fileHandleForReading.readDataToEndOfFile()
                errors.withLock { $0 = data }
                done.signal()
            }
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            done.wait()
            process.waitUntilExit()
            continuation.resume(returning: CLIResult(
                status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                stderr: String(decoding: errors.withLock { $0 }, as: UTF8.self)))
        }
    }
}
