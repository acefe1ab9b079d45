import Foundation
@testable import Spec
import Testing

/// `type: sweep` nodes: the grammar, the trials a grid or random sweep samples, and the errors.
@Suite struct SweepLoadingTests {
    static let trial = """
        type: command
        inputs:
          data: {type: uri_folder}
          lr: {type: number, default: 0.1}
          depth: {type: integer, default: 2}
          optimizer: {type: string, default: sgd}
        outputs:
          model: {type: uri_folder}
        command: train --data ${{inputs.data}} --lr ${{inputs.lr}} --depth ${{inputs.depth}} --opt ${{inputs.optimizer}} --out ${{outputs.model}}
        """

    static func pipeline(_ sweep: String, trial: String = "./trial.yml") -> String {
        """
        type: pipeline
        outputs:
          best: {type: uri_folder, name: best-model}
        jobs:
          prep:
            command: echo prep > ${{outputs.clean}}/x
            outputs:
              clean: {type: uri_folder}
          tune:
            type: sweep
            trial: \(trial)
            inputs:
              data: ${{parent.jobs.prep.outputs.clean}}
            outputs:
              model: ${{parent.outputs.best}}
        \(sweep)
          use:
            command: cat ${{inputs.model}}/weights
            inputs:
              model: ${{parent.jobs.tune.outputs.model}}
        """
    }

    static let grid = """
            search_space:
              lr: {type: choice, values: [0.1, 0.01]}
              optimizer: {type: choice, values: [sgd, adam, sgd]}
            sampling_algorithm: grid
            objective: {goal: minimize, primary_metric: loss}
            limits: {max_total_trials: 10, max_concurrent_trials: 2, trial_timeout: 60}
        """

    func load(_ sweep: String) throws -> PipelinePlan {
        try Fixture(["pipeline.yml": Self.pipeline(sweep), "trial.yml": Self.trial]).load()
    }

    func error(_ sweep: String) throws -> SpecError? {
        try Fixture(["pipeline.yml": Self.pipeline(sweep), "trial.yml": Self.trial]).error()
    }

    @Test func aGridSweepBecomesOneStepPerPointAndASweepStep() throws {
        let plan = try load(Self.grid)
        #expect(plan.steps.map(\.name) == ["prep", "tune/trial_0", "tune/trial_1", "tune/trial_2", "tune/trial_3", "tune", "use"])
        let trials = plan.steps.filter { $0.trialOf == "tune" }
        #expect(trials.map { $0.parameters["lr"]! + "/" + $0.parameters["optimizer"]! } == ["0.1/sgd", "0.1/adam", "0.01/sgd", "0.01/adam"])
        #expect(trials.allSatisfy { $0.parameters["depth"] == "2" && $0.timeoutSeconds == 60 })
        #expect(trials.allSatisfy { $0.inputs.first?.source == .stepOutput(step: "prep", output: "clean") })
        // Trials neither register nor write paths; the sweep step does.
        #expect(trials.allSatisfy { $0.outputs.allSatisfy { $0.asset == nil && $0.path == nil } })
        let sweep = try #require(plan.steps.first { $0.name == "tune" })
        let selection = try #require(sweep.sweep)
        #expect(selection.trials.map(\.step) == trials.map(\.name))
        #expect(selection.trials[1].point == ["lr": "0.1", "optimizer": "adam"])
        #expect(selection.objective == SweepObjective(goal: .minimize, primaryMetric: "loss"))
        #expect(selection.limits.maxConcurrentTrials == 2)
        #expect(sweep.outputs.first?.asset?.name == "best-model")
        #expect(sweep.inputs.map(\.name) == ["trial_0.model", "trial_1.model", "trial_2.model", "trial_3.model"])
        #expect(plan.outputs.first?.step == "tune")
        #expect(plan.steps.last?.inputs.first?.source == .stepOutput(step: "tune", output: "model"))
        // The plan survives its JSON form.
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
        #expect(decoded == plan)
    }

    @Test func aGridIsCutAtMaxTotalTrialsAndRandintEnumerates() throws {
        let plan = try load("""
                search_space:
                  depth: {type: randint, upper: 3}
                  lr: {type: choice, values: [1, 2]}
                sampling_algorithm: grid
                objective: {goal: maximize, primary_metric: acc}
                limits: {max_total_trials: 5}
            """)
        let points = plan.steps.filter { $0.trialOf != nil }.map { $0.parameters["depth"]! + "," + $0.parameters["lr"]! }
        #expect(points == ["0,1", "0,2", "1,1", "1,2", "2,1"])
    }

    @Test func aSeededRandomSweepDrawsTheSamePointsAndMoreTrialsKeepTheEarlierOnes() throws {
        func points(_ total: Int, seed: Int = 42) throws -> [[String: String]] {
            let plan = try load("""
                    search_space:
                      lr: {type: loguniform, min_value: -6, max_value: -1}
                      depth: {type: randint, upper: 8}
                      optimizer: {type: choice, values: [sgd, adam]}
                    sampling_algorithm: {type: random, seed: \(seed)}
                    objective: {goal: maximize, primary_metric: acc}
                    limits: {max_total_trials: \(total)}
                """)
            return try #require(plan.steps.first { $0.sweep != nil }?.sweep).trials.map(\.point)
        }
        let five = try points(5)
        #expect(five.count == 5 && Set(five).count == 5)
        #expect(try points(5) == five)
        #expect(Array(try points(8).prefix(5)) == five)
        #expect(try points(5, seed: 43) != five)
        for point in five {
            let lr = try #require(Double(point["lr"]!))
            #expect(lr >= exp(-6.0) && lr <= exp(-1.0), "\(point)")
            #expect(Int(point["depth"]!).map { (0..<8).contains($0) } == true)
            #expect(["sgd", "adam"].contains(point["optimizer"]!))
        }
    }

    @Test func addingAChoiceValueUnderAFixedSeedKeepsMostPoints() throws {
        func points(_ values: String) throws -> [[String: String]] {
            let plan = try load("""
                    search_space:
                      lr: {type: uniform, min_value: 0.01, max_value: 0.1}
                      optimizer: {type: choice, values: [\(values)]}
                    sampling_algorithm: {type: random, seed: 3}
                    objective: {goal: maximize, primary_metric: acc}
                    limits: {max_total_trials: 30}
                """)
            return try #require(plan.steps.first { $0.sweep != nil }?.sweep).trials.map(\.point)
        }
        let before = try points("sgd, adam")
        let after = try points("sgd, adam, rmsprop")
        let kept = zip(before, after).filter { $0 == $1 }.count
        let moved = zip(before, after).filter { $0 != $1 }
        // A draw changes only to the new value: about a third of them.
        #expect(kept >= 15, "\(kept) of 30 kept")
        #expect(moved.allSatisfy { $0.1["optimizer"] == "rmsprop" && $0.0["lr"] == $0.1["lr"] }, "\(moved)")
    }

    @Test func aHugeRandintGridIsEnumeratedOnlyAsFarAsTheLimit() throws {
        let plan = try load("""
                search_space:
                  depth: {type: randint, upper: 1000000000000}
                sampling_algorithm: grid
                objective: {goal: maximize, primary_metric: acc}
                limits: {max_total_trials: 3}
            """)
        #expect(plan.steps.compactMap { $0.trialOf == nil ? nil : $0.parameters["depth"] } == ["0", "1", "2"])
    }

    @Test func aSmallDiscreteSpaceYieldsEachPointOnce() throws {
        let plan = try load("""
                search_space:
                  optimizer: {type: choice, values: [sgd, adam]}
                sampling_algorithm: {type: random, seed: 1}
                objective: {goal: maximize, primary_metric: acc}
                limits: {max_total_trials: 10}
            """)
        #expect(Set(plan.steps.compactMap { $0.trialOf == nil ? nil : $0.parameters["optimizer"] }) == ["sgd", "adam"])
        #expect(plan.steps.filter { $0.trialOf != nil }.count == 2)
    }

    @Test func qDistributionsRoundToMultiples() {
        var generator = DrawGenerator(seed: 3, draw: 0, name: "x")
        for _ in 0..<200 {
            guard case .float(let value) = SweepSampler.sample(.uniform(min: 0, max: 10, q: 2.5), using: &generator) else {
                Issue.record("not a float")
                return
            }
            #expect((value / 2.5).rounded() == value / 2.5 && value >= 0 && value <= 10)
            guard case .int(let whole) = SweepSampler.sample(.randint(upper: 3), using: &generator) else { return }
            #expect((0..<3).contains(whole))
        }
    }

    @Test func randomWithoutASeedSaysWhichSeedItUsed() throws {
        let plan = try load("""
                search_space:
                  lr: {type: uniform, min_value: 0.01, max_value: 0.1}
                sampling_algorithm: random
                objective: {goal: maximize, primary_metric: acc}
                limits: {max_total_trials: 3}
            """)
        #expect(plan.warnings.contains { $0.contains("random sampling without a seed") && $0.contains("seed:") }, "\(plan.warnings)")
    }

    @Test(arguments: [
        ("search_space:\n      lr: {type: uniform, min_value: 0.1, max_value: 0.2}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "grid sampling enumerates choice and randint values only"),
        ("search_space:\n      nope: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "the trial component has no input 'nope'"),
        ("search_space:\n      data: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "'data' is a data input of the trial"),
        ("search_space:\n      lr: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    limits: {max_total_trials: 2}",
         "a sweep step needs objective"),
        ("search_space:\n      lr: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    objective: {goal: best, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "goal must be maximize or minimize"),
        ("search_space:\n      lr: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_concurrent_trials: 2}",
         "limits needs max_total_trials"),
        ("search_space:\n      lr: {type: normal, mu: 0, sigma: -1}\n    sampling_algorithm: random\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "sigma must be above 0"),
        ("search_space:\n      lr: {type: gaussian, mu: 0}\n    sampling_algorithm: random\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "unknown search space type 'gaussian'"),
        ("search_space:\n      lr: {type: choice, values: [1]}\n    sampling_algorithm: sobol\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "sampling_algorithm must be random, grid or bayesian"),
        ("search_space:\n      lr: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}\n    early_termination: {type: bandit}",
         "exactly one of slack_factor"),
        ("search_space:\n      lr: {type: choice, values: [{a: 1}]}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 2}",
         "nested search spaces"),
        ("search_space:\n      lr: {type: choice, values: [1]}\n    sampling_algorithm: grid\n    objective: {goal: maximize, primary_metric: a}\n    limits: {max_total_trials: 5000}",
         "max_total_trials must be between 1 and 1000"),
    ])
    func badSweepsAreRefusedAtTheirLine(sweep: String, expected: String) throws {
        let error = try #require(try self.error("    " + sweep))
        #expect(error.message.contains(expected), "\(error)")
        #expect(error.line != nil, "\(error)")
    }

    @Test func aSearchedInputSetUnderInputsIsRefused() throws {
        let both = try Fixture([
            "pipeline.yml": Self.pipeline(Self.grid).replacingOccurrences(of: "data: ${{parent.jobs.prep.outputs.clean}}", with: "data: ${{parent.jobs.prep.outputs.clean}}\n      lr: 0.5"),
            "trial.yml": Self.trial,
        ]).error()
        #expect(both?.message.contains("'lr' is both searched over and set under inputs:") == true, "\(String(describing: both))")
    }
}
