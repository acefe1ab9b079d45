import Foundation
import Spec
import Synchronization

/// Looks at interpreters the environments file maps to, for the loader's warnings (`validate`,
/// `run`, `submit`): whether each runs on this machine, and which distributions of its conda file
/// it lacks (`importlib.metadata.distribution` by name, else `importlib.util.find_spec` of the
/// name with `-` as `_`). Each interpreter is asked once per process.
enum InterpreterInspector {
    private struct Question: Hashable {
        var interpreter: String
        var distributions: [String]
    }

    private static let answers = Mutex<[Question: InterpreterInspection]>([:])

    /// How long an interpreter may take to answer before it counts as not running.
    static let deadline: TimeInterval = 30

    /// The program the interpreter runs: the names come as JSON in argv[1]; it prints the missing ones.
    static let script = """
        import json, sys
        import importlib.metadata as metadata, importlib.util as util
        missing = []
        for name in json.loads(sys.argv[1]):
            try:
                metadata.distribution(name)
                continue
            except Exception:
                pass
            try:
                if util.find_spec(name.replace("-", "_").replace(".", "_").lower()) is not None:
                    continue
            except Exception:
                pass
            missing.append(name)
        print(json.dumps(missing))
        """

    /// The inspection of `interpreter` for `distributions` (cached).
    static func inspect(_ interpreter: String, _ distributions: [String]) -> InterpreterInspection {
        let question = Question(interpreter: interpreter, distributions: distributions)
        if let known = answers.withLock({ $0[question] }) { return known }
        let answer = ask(question)
        answers.withLock { $0[question] = answer }
        return answer
    }

    private static func ask(_ question: Question) -> InterpreterInspection {
        guard FileManager.default.isExecutableFile(atPath: question.interpreter) else {
            return .unavailable("does not exist or is not executable")
        }
        let names = (try? JSONSerialization.data(withJSONObject: question.distributions)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: question.interpreter)
        process.arguments = ["-c", script, names]
        var environment = ProcessInfo.processInfo.environment
        for name in ["PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV"] { environment[name] = nil }
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .unavailable("cannot be started (\(error.localizedDescription))")
        }
        let state = RunState()
        let timer = DispatchWorkItem {
            guard process.isRunning else { return }
            state.timedOut = true
            process.terminate()
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + deadline, execute: timer)
        let drained = DispatchGroup()
        drained.enter()
        DispatchQueue.global().async {
            // Read at the same time as standard output, so that neither pipe fills and blocks it.
            state.errors = errors.fileHandleForReading.readDataToEndOfFile()
            drained.leave()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        drained.wait()
        timer.cancel()
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard process.terminationStatus == 0, process.terminationReason == .exit,
              let missing = try? JSONDecoder().decode([String].self, from: Data(line.utf8))
        else {
            let detail = String(decoding: state.errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
            let ending = state.timedOut ? "did not answer within \(Int(deadline)) s"
                : process.terminationReason == .uncaughtSignal ? "was killed by signal \(process.terminationStatus)"
                : "exited with status \(process.terminationStatus)"
            return .unavailable("does not run as Python 3.8 or later (it \(ending)\(detail.isEmpty ? "" : ": " + detail))")
        }
        return .missing(missing)
    }

    /// What the threads of one inspection share.
    private final class RunState: @unchecked Sendable {  // every access holds `lock`
        private let lock = NSLock()
        private var _timedOut = false
        private var _errors = Data()
        var timedOut: Bool {
            get { lock.withLock { _timedOut } }
            set { lock.withLock { _timedOut = newValue } }
        }
        var errors: Data {
            get { lock.withLock { _errors } }
            set { lock.withLock { _errors = newValue } }
        }
    }
}
