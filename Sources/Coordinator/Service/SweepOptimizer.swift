import Foundation
import Spec

/// Proposes the points of bayesian sweeps with Optuna's TPE sampler, in a Python process the
/// coordinator starts for each proposal (stateless: the request carries the sweep's history).
///
/// The Python it runs is `$CONDUIT_OPTIMIZER_PYTHON`, else `python3` on `PATH`; Optuna must be
/// importable there (`python3 -m pip install optuna`). A submission with a bayesian sweep is refused
/// when it is not.
struct SweepOptimizer: Sendable {
    /// The interpreter.
    let python: String
    /// Where the helper script is written (`DATA_DIR/sweep-optimizer.py`).
    let scriptPath: String

    init(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        python = environment["CONDUIT_OPTIMIZER_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
        scriptPath = dataDirectory + "/sweep-optimizer.py"
    }

    /// What the helper is asked.
    struct Request: Encodable {
        struct Completed: Encodable {
            var point: [String: String]
            var value: Double
        }

        var space: [SweepDimension]
        var goal: String
        var seed: UInt64
        /// The trial's number in its sweep: each proposal seeds its sampler with the sweep's seed
        /// and this, so the points differ while the sweep stays repeatable.
        var trial: Int
        var completed: [Completed]
        var pending: [[String: String]]
    }

    /// Why a proposal or the check failed.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The `pip install` line for a missing Optuna.
    var installHint: String {
        "bayesian sampling needs Optuna on the coordinator's machine, which \(python) cannot import: run `\(python) -m pip install optuna` there (or set CONDUIT_OPTIMIZER_PYTHON to a Python that has it), or use sampling_algorithm: random with a seed"
    }

    /// Nil when Optuna can be imported, else why not (with the line that fixes it). Blocks for
    /// the second or so Python takes to start.
    func check() -> String? {
        do {
            try writeScript()
            let result = try Self.run(python, [scriptPath, "--check"], input: Data(), timeout: 60)
            if result.status == 0 { return nil }
            return installHint
        } catch {
            return "\(installHint) (\(error))"
        }
    }

    /// `check()` on a thread of its own.
    func checkOffThread() async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: check()) }
        }
    }

    /// The next point to try, given the sweep's completed and pending trials.
    func propose(_ request: Request) async throws -> [String: String] {
        try writeScript()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let input = try encoder.encode(request)
        let python = self.python, script = scriptPath
        let running = RunningProcess()
        let result = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(status: Int32, output: Data, errors: Data), any Error>) in
                // A thread of its own: the proposal waits on a process, never on the coordinator's threads.
                Thread.detachNewThread {
                    continuation.resume(with: Result { try Self.run(python, [script], input: input, timeout: 300, running: running) })
                }
            }
        } onCancel: {
            running.terminate()  // the coordinator is shutting down
        }
        guard result.status == 0 else {
            if result.status == 3 { throw Failure(description: installHint) }
            let text = String(decoding: result.errors.suffix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "the optimiser (\(python) \(script)) exited with status \(result.status): \(text)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: result.output) as? [String: Any],
              let point = object["point"] as? [String: String] else {
            throw Failure(description: "the optimiser printed no point: \(String(decoding: result.output.prefix(500), as: UTF8.self))")
        }
        return point
    }

    private func writeScript() throws {
        let data = Data(Self.script.utf8)
        if FileManager.default.contents(atPath: scriptPath) == data { return }
        let temporary = scriptPath + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        _ = rename(temporary, scriptPath)
    }

    /// Runs `executable` with `arguments` (found on `PATH` when it has no `/`), feeding `input`.
    static func run(
        _ executable: String, _ arguments: [String], input: Data, timeout: Double, running: RunningProcess? = nil
    ) throws -> (status: Int32, output: Data, errors: Data) {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        running?.started(process)
        let errors = LockedData()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errors.set(stderr.fileHandleForReading.readDataToEndOfFile())
            finished.signal()
        }
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        finished.wait()
        process.waitUntilExit()
        timer.cancel()
        return (process.terminationStatus, output, errors.get())
    }

    /// The helper. Exit status 3: Optuna is missing.
    static let script = #"""
        """Proposes the next point of a Conduit bayesian sweep with Optuna's TPE sampler.

        Reads one JSON request on stdin:
          {"space": [{"name", "type", "values", "valueKind", "parameters"}], "goal": "maximize",
           "seed": 7, "trial": 2, "completed": [{"point": {...}, "value": 0.9}], "pending": [{...}]}
        and prints {"point": {"NAME": "TEXT"}}: each value as the trial's command receives it.
        Exits with status 3 when Optuna cannot be imported. With --check, only checks that.
        """
        import json
        import math
        import sys


        def distribution(optuna, dimension):
            """The Optuna distribution of one search-space input.

            Normal and lognormal inputs are unbounded; they are searched within four sigmas of mu.
            """
            kind, numbers = dimension["type"], dimension.get("parameters", {})
            if kind == "choice":
                return optuna.distributions.CategoricalDistribution(list(range(len(dimension["values"]))))
            if kind == "randint":
                return optuna.distributions.IntDistribution(0, int(numbers["upper"]) - 1)
            if kind in ("uniform", "quniform"):
                return optuna.distributions.FloatDistribution(numbers["min_value"], numbers["max_value"])
            if kind in ("loguniform", "qloguniform"):
                return optuna.distributions.FloatDistribution(
                    math.exp(numbers["min_value"]), math.exp(numbers["max_value"]), log=True)
            mu, sigma = numbers["mu"], numbers["sigma"]
            if kind in ("normal", "qnormal"):
                return optuna.distributions.FloatDistribution(mu - 4 * sigma, mu + 4 * sigma)
            return optuna.distributions.FloatDistribution(math.exp(mu - 4 * sigma), math.exp(mu + 4 * sigma), log=True)


        def internal(dimension, text, dist):
            """The Optuna value of a point's text (clamped into the distribution's range)."""
            if dimension["type"] == "choice":
                return dimension["values"].index(text)
            if dimension["type"] == "randint":
                return min(max(int(float(text)), dist.low), dist.high)
            return min(max(float(text), dist.low), dist.high)


        def rendered(dimension, value):
            """The text a trial's command receives for an Optuna value, as Python's str() writes it."""
            if dimension["type"] == "choice":
                return dimension["values"][value]
            if dimension["type"] == "randint":
                return str(int(value))
            q = dimension.get("parameters", {}).get("q")
            if q:
                value = round(value / q) * q
            return str(float(value))


        def main() -> int:
            try:
                import optuna
            except ImportError:
                print("Optuna is not installed: pip install optuna", file=sys.stderr)
                return 3
            if "--check" in sys.argv:
                print(optuna.__version__)
                return 0
            request = json.load(sys.stdin)
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            space = request["space"]
            dists = {d["name"]: distribution(optuna, d) for d in space}
            # A process per proposal: the sampler's random state is seeded anew for each trial.
            seed = (request["seed"] + 1000003 * request["trial"]) % (2 ** 32)
            sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
            study = optuna.create_study(direction=request["goal"], sampler=sampler)

            def params(point):
                return {d["name"]: internal(d, point[d["name"]], dists[d["name"]]) for d in space}

            for trial in request["completed"]:
                study.add_trial(optuna.trial.create_trial(
                    params=params(trial["point"]), distributions=dists, value=trial["value"]))
            for point in request["pending"]:
                study.add_trial(optuna.trial.create_trial(
                    params=params(point), distributions=dists, state=optuna.trial.TrialState.RUNNING))
            proposal = study.ask(dists)
            print(json.dumps({"point": {d["name"]: rendered(d, proposal.params[d["name"]]) for d in space}}))
            return 0


        if __name__ == "__main__":
            sys.exit(main())
        """#
}

/// The optimiser's process while it runs, so that a cancelled proposal can stop it.
final class RunningProcess: @unchecked Sendable {
    private let lock = NSLock()
    private var process: Process?
    private var canceled = false

    func started(_ process: Process) {
        let stop = lock.withLock { () -> Bool in
            self.process = process
            return canceled
        }
        if stop { process.terminate() }
    }

    func terminate() {
        let process = lock.withLock { () -> Process? in
            canceled = true
            return self.process
        }
        if let process, process.isRunning { process.terminate() }
    }
}

/// Bytes filled in by one thread and read by another.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
