@testable import Coordinator
import Foundation
import Spec
import TestKit
import Testing

/// The bayesian optimiser helper with real Optuna (the MLflow 3.x test environment has it).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SweepOptimizerTests {
    static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["CONDUIT_MLFLOW3_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ProcessHarness.packageRoot() + "/.build/mlflow3-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("no Python with Optuna at \(path): install it with `bash scripts/mlflow-venvs.sh`")
        }
        return path
    }

    static let space: [SweepDimension] = [
        SweepDimension(name: "opt", type: "choice", values: ["sgd", "adam"], valueKind: "text"),
        SweepDimension(name: "width", type: "randint", parameters: ["upper": 8]),
        SweepDimension(name: "decay", type: "quniform", parameters: ["min_value": 0, "max_value": 10, "q": 2]),
        SweepDimension(name: "lr", type: "loguniform", parameters: ["min_value": -6, "max_value": -1]),
        SweepDimension(name: "noise", type: "qnormal", parameters: ["mu": 10, "sigma": 2, "q": 1]),
    ]

    func optimizer(_ python: String) throws -> SweepOptimizer {
        let directory = try ProcessHarness.temporaryDirectory("sweep-optimizer")
        return SweepOptimizer(dataDirectory: directory, environment: ["CONDUIT_OPTIMIZER_PYTHON": python])
    }

    func check(_ point: [String: String]) {
        #expect(["sgd", "adam"].contains(point["opt"]), "\(point)")
        #expect(Int(point["width"] ?? "").map { (0..<8).contains($0) } == true, "\(point)")
        #expect(Double(point["decay"] ?? "").map { $0.truncatingRemainder(dividingBy: 2) == 0 && $0 >= 0 && $0 <= 10 } == true, "\(point)")
        #expect(Double(point["lr"] ?? "").map { $0 >= exp(-6) && $0 <= exp(-1) } == true, "\(point)")
        #expect(Double(point["noise"] ?? "").map { $0 == $0.rounded() } == true, "\(point)")
    }

    @Test func proposalsFollowTheHistoryAreRepeatableAndDifferByTrial() async throws {
        let optimizer = try optimizer(try Self.python())
        // Past the sampler's random start-up trials, so TPE itself proposes.
        var completed: [SweepOptimizer.Request.Completed] = []
        var generator = SeededGenerator(seed: 4)
        for _ in 0..<14 {
            let width = Int.random(in: 0..<8, using: &generator)
            let point = [
                "opt": Bool.random(using: &generator) ? "sgd" : "adam", "width": "\(width)", "decay": "4.0",
                "lr": "\(exp(Double.random(in: -6 ... -1, using: &generator)))", "noise": "10.0",
            ]
            completed.append(.init(point: point, value: Double(width)))
        }
        let request = SweepOptimizer.Request(space: Self.space, goal: "minimize", seed: 9, trial: 14, completed: completed, pending: [completed[0].point])
        let first = try await optimizer.propose(request)
        check(first)
        #expect(try await optimizer.propose(request) == first)
        var next = request
        next.trial = 15
        check(try await optimizer.propose(next))
        var fresh = request
        fresh.completed = []
        fresh.pending = []
        let a = try await optimizer.propose(fresh)
        fresh.trial = 1
        #expect(try await optimizer.propose(fresh) != a)
    }

    @Test func withoutOptunaTheCheckGivesThePipLine() async throws {
        let optimizer = try optimizer("/usr/bin/python3")
        let problem = await optimizer.checkOffThread()
        #expect(problem?.contains("/usr/bin/python3 -m pip install optuna") == true, "\(String(describing: problem))")
        #expect(await (try self.optimizer(try Self.python())).checkOffThread() == nil)
    }
}
