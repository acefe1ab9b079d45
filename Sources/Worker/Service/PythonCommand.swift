import Foundation

/// Short Python commands the worker runs for itself (probing an interpreter, making an attempt's
/// layer), their output captured.
enum PythonCommand {
    /// How a captured command ended and what it printed.
    struct Captured: Sendable {
        var exitCode: Int32?
        var signal: Int32?
        var stdout: String
        var stderr: String

        var succeeded: Bool { exitCode == 0 }

        /// `exited with status 1`, `was killed by signal 9`, or `could not start: …`.
        var ending: String {
            if let exitCode { return "exited with status \(exitCode)" }
            if let signal { return "was killed by signal \(signal)" }
            return "could not start: " + stderr
        }
    }

    /// `environment` without what would send an interpreter elsewhere: `PYTHONHOME` (another
    /// standard library) and `VIRTUAL_ENV` (another environment's scripts).
    static func cleaned(_ environment: [String: String]) -> [String: String] {
        var result = environment
        result["PYTHONHOME"] = nil
        result["VIRTUAL_ENV"] = nil
        return result
    }

    /// Runs `arguments` (the program first, as a path) and collects its output.
    static func capture(_ arguments: [String], environment: [String: String]) async -> Captured {
        let process: ChildProcess
        do {
            process = try ChildProcess.launch(
                command: arguments.map(EnvironmentBuilds.shellQuoted).joined(separator: " "), workingDirectory: "/", environment: environment
            )
        } catch {
            return Captured(exitCode: nil, signal: nil, stdout: "", stderr: "\(error)")
        }
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        for await (kind, bytes) in process.output {
            if kind == .stdout { stdout += bytes } else { stderr += bytes }
        }
        let termination = await process.wait()
        return Captured(
            exitCode: termination.exitCode, signal: termination.exitCode == nil ? termination.signal ?? 0 : nil,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self)
        )
    }
}
