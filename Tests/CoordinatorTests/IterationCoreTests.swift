@testable import Coordinator
import Protocol
import Spec
import Testing

/// A cache and history held in dictionaries.
private struct FakeCache: DryRunPlanner.CacheView {
    var entries: [String: DryRunPlanner.CacheLookup] = [:]
    var history: [String: (run: String, manifest: CacheManifest)] = [:]

    func lookup(key: String, step: PlannedStep) -> DryRunPlanner.CacheLookup { entries[key] ?? .miss }
    func earlierExecutions(of step: String) -> [NearestExecution.Candidate] {
        history[step].map { [NearestExecution.Candidate(run: $0.run, manifest: $0.manifest)] } ?? []
    }
}

/// prep (local data) → train (lr) → evaluate; report reads nothing upstream.
private func plan(lr: String = "0.1", settings: PipelineSettings = PipelineSettings(), deterministic: Bool = true) -> PipelinePlan {
    let prep = PlannedStep(
        name: "prep", commandTemplate: "prep ${{inputs.raw}} ${{outputs.clean}}", command: CommandTemplate(segments: [.text("prep")]),
        inputs: [StepDataInput(name: "raw", type: .uriFolder, source: .localPath("/data"))],
        outputs: [StepDataOutput(name: "clean", type: .uriFolder)]
    )
    let train = PlannedStep(
        name: "train", commandTemplate: "train --lr ${{inputs.lr}}", command: CommandTemplate(segments: [.text("train")]),
        parameters: ["lr": lr], inputs: [StepDataInput(name: "data", type: .uriFolder, source: .stepOutput(step: "prep", output: "clean"))],
        outputs: [StepDataOutput(name: "model", type: .uriFolder)], isDeterministic: deterministic
    )
    let evaluate = PlannedStep(
        name: "evaluate", commandTemplate: "evaluate", command: CommandTemplate(segments: [.text("evaluate")]),
        inputs: [StepDataInput(name: "model", type: .uriFolder, source: .stepOutput(step: "train", output: "model"))],
        outputs: [StepDataOutput(name: "report", type: .uriFolder)]
    )
    let report = PlannedStep(name: "report", commandTemplate: "report", command: CommandTemplate(segments: [.text("report")]))
    return PipelinePlan(name: "p", sourceFile: "/p.yml", settings: settings, steps: [prep, train, evaluate, report], outputs: [])
}

private let localInputs = ["prep\u{1F}raw": "raw1"]

/// The manifests a completed run of `plan` recorded, with the cache entries it left.
private func completedRun(of plan: PipelinePlan, run: String) -> FakeCache {
    var cache = FakeCache()
    var outputs: [String: [String: String]] = [:]
    for step in plan.steps {
        var inputs: [String: String] = [:]
        for input in step.inputs {
            switch input.source {
            case .stepOutput(let producer, let output): inputs[input.name] = outputs[producer]?[output]
            case .localPath: inputs[input.name] = localInputs[step.name + "\u{1F}" + input.name]
            case .uri(let uri): inputs[input.name] = uri
            }
        }
        let manifest = CacheManifest(step: step, inputs: inputs, code: nil)
        let produced = Dictionary(uniqueKeysWithValues: step.outputs.map { ($0.name, "\(step.name)-\($0.name)-\(manifest.key.prefix(8))") })
        outputs[step.name] = produced
        cache.entries[manifest.key] = .hit(run: run, outputs: produced)
        cache.history[step.name] = (run, manifest)
    }
    return cache
}

@Suite struct DryRunPlannerTests {
    @Test func everythingIsReusedAfterACompletedRunOfTheSamePlan() {
        let cache = completedRun(of: plan(), run: "run-1")
        let report = DryRunPlanner(plan: plan(), localInputs: localInputs, code: [:], force: []).decide(using: cache)
        #expect(report.steps.map(\.decision) == ["reuse", "reuse", "reuse", "reuse"])
        #expect(report.steps.allSatisfy { $0.sourceRun == "run-1" && $0.cacheKey != nil })
    }

    @Test func aChangedParameterRunsWithTheReasonAndDownstreamDependsOnIt() {
        let cache = completedRun(of: plan(), run: "run-1")
        let report = DryRunPlanner(plan: plan(lr: "0.01"), localInputs: localInputs, code: [:], force: []).decide(using: cache)
        let byName = Dictionary(uniqueKeysWithValues: report.steps.map { ($0.name, $0) })
        #expect(byName["prep"]?.decision == "reuse")
        #expect(byName["train"]?.decision == "run")
        #expect(byName["train"]?.reasons == ["parameter lr: 0.1 → 0.01"])
        #expect(byName["train"]?.sourceRun == "run-1")
        #expect(byName["evaluate"]?.decision == "depends")
        #expect(byName["evaluate"]?.upstream == ["train"])
        #expect(byName["evaluate"]?.reasons == [], "nothing else differs: only train's new outputs can make it run")
        #expect(byName["evaluate"]?.cacheKey == nil)
        #expect(byName["report"]?.decision == "reuse")
    }

    @Test func changedLocalDataRunsTheReaderWithAContentReason() {
        let cache = completedRun(of: plan(), run: "run-1")
        let report = DryRunPlanner(plan: plan(), localInputs: ["prep\u{1F}raw": "raw2"], code: [:], force: []).decide(using: cache)
        #expect(report.steps[0].decision == "run")
        #expect(report.steps[0].reasons == ["input raw: content changed"])
        #expect(report.steps[1].decision == "depends" && report.steps[1].upstream == ["prep"])
    }

    @Test func optOutsRunWhateverTheCacheHolds() {
        let cache = completedRun(of: plan(), run: "run-1")
        let forced = DryRunPlanner(plan: plan(), localInputs: localInputs, code: [:], force: ["prep"]).decide(using: cache)
        #expect(forced.steps[0].decision == "run")
        #expect(forced.steps[0].reasons == ["reuse disabled: --force prep was given"])
        #expect(forced.steps[1].decision == "depends")

        let everything = DryRunPlanner(plan: plan(settings: PipelineSettings(forceRerun: true)), localInputs: localInputs, code: [:], force: [])
            .decide(using: cache)
        #expect(everything.steps.allSatisfy { $0.decision == "run" && $0.reasons == ["reuse disabled: settings.force_rerun is set"] })

        let random = DryRunPlanner(plan: plan(deterministic: false), localInputs: localInputs, code: [:], force: []).decide(using: cache)
        #expect(random.steps[1].decision == "run")
        #expect(random.steps[1].reasons == ["reuse disabled: the component sets is_deterministic: false"])
    }

    @Test func aStepThatNeverRanSaysSo() {
        let report = DryRunPlanner(plan: plan(), localInputs: localInputs, code: [:], force: []).decide(using: FakeCache())
        #expect(report.steps[0].reasons == ["step prep never ran before"])
        #expect(report.steps[3].reasons == ["step report never ran before"])
    }

    @Test func aDependingStepNamesWhatElseIsKnownToDiffer() {
        let cache = completedRun(of: plan(), run: "run-1")
        var changed = plan(lr: "0.01")
        changed.steps[2].commandTemplate = "evaluate --verbose"
        let report = DryRunPlanner(plan: changed, localInputs: localInputs, code: [:], force: []).decide(using: cache)
        #expect(report.steps[2].decision == "depends")
        #expect(report.steps[2].reasons == ["command: the command text changed"])
    }

    @Test func aBrokenEntryAndAnEvictedOneRunWithTheirReasons() {
        var cache = completedRun(of: plan(), run: "run-1")
        let prepKey = CacheManifest(step: plan().steps[0], inputs: ["raw": "raw1"], code: nil).key
        cache.entries[prepKey] = .notIntact(run: "run-1", problem: "output clean: blob 0123 missing")
        let broken = DryRunPlanner(plan: plan(), localInputs: localInputs, code: [:], force: []).decide(using: cache)
        #expect(broken.steps[0].reasons == ["the cached result from run run-1 is not intact (output clean: blob 0123 missing)"])
        cache.entries[prepKey] = nil
        let evicted = DryRunPlanner(plan: plan(), localInputs: localInputs, code: [:], force: []).decide(using: cache)
        #expect(evicted.steps[0].reasons == ["nothing differs from run run-1, but its result is no longer cached"])
    }

    @Test func theDryRunKeyIsTheKeyARunComputes() {
        // The same builder serves both: a key computed by hand from the fields must match.
        let step = plan().steps[1]
        let manifest = CacheManifest(step: step, inputs: ["data": "d1"], code: nil)
        let byHand = CacheManifest(
            command: "train --lr ${{inputs.lr}}", parameters: ["lr": "0.1"], code: nil, environment: "",
            inputs: ["data": .init(type: "uri_folder", digest: "d1")], outputs: ["model": "uri_folder"]
        )
        #expect(manifest == byHand)
        #expect(manifest.key == CacheManifest.key(ofCanonicalJSON: byHand.canonicalJSON))
    }
}

@Suite struct RerunSelectionTests {
    @Test func fromAStepForcesItAndEverythingDownstream() {
        #expect(RerunSelection.forced(from: "train", in: plan()) == ["train", "evaluate"])
        #expect(RerunSelection.forced(from: "prep", in: plan()) == ["prep", "train", "evaluate"])
        #expect(RerunSelection.forced(from: "report", in: plan()) == ["report"])
        #expect(RerunSelection.forced(from: "nope", in: plan()) == nil)
    }

    @Test func diamondsAndIndirectReadersAreIncluded() {
        func step(_ name: String, reads: [String]) -> PlannedStep {
            PlannedStep(
                name: name, commandTemplate: name, command: CommandTemplate(segments: []),
                inputs: reads.map { StepDataInput(name: "in_\($0)", type: .uriFolder, source: .stepOutput(step: $0, output: "out")) },
                outputs: [StepDataOutput(name: "out", type: .uriFolder)]
            )
        }
        let diamond = PipelinePlan(
            name: "d", sourceFile: "/d.yml", settings: PipelineSettings(),
            steps: [step("a", reads: []), step("b", reads: ["a"]), step("x", reads: []), step("c", reads: ["a"]), step("d", reads: ["b", "c"]), step("e", reads: ["x"])],
            outputs: []
        )
        #expect(RerunSelection.forced(from: "a", in: diamond) == ["a", "b", "c", "d"])
        #expect(RerunSelection.forced(from: "c", in: diamond) == ["c", "d"])
        #expect(RerunSelection.forced(from: "x", in: diamond) == ["x", "e"])
    }
}

@Suite struct RunDiffTests {
    let base = CacheManifest(
        command: "train", parameters: ["lr": "0.1"], code: .init(digest: "c1", files: ["train.py": "f1"]), environment: "",
        inputs: ["data": .init(type: "uri_folder", digest: "d1")], outputs: ["model": "uri_folder"]
    )

    @Test func namesChangedFieldsReuseOutputsAndMetricDeltas() {
        var changed = base
        changed.parameters["lr"] = "0.01"
        let a = [
            RunDiff.StepFacts(name: "prep", status: .completed, reused: false, manifest: base, outputs: ["o": "x"]),
            RunDiff.StepFacts(name: "train", status: .completed, reused: false, manifest: base, outputs: ["model": "m1"], metrics: ["accuracy": 0.8, "loss": 0.5]),
            RunDiff.StepFacts(name: "old", status: .completed, reused: false),
        ]
        let b = [
            RunDiff.StepFacts(name: "prep", status: .completed, reused: true, sourceRun: "run-a", manifest: base, outputs: ["o": "x"]),
            RunDiff.StepFacts(name: "train", status: .completed, reused: false, manifest: changed, outputs: ["model": "m2"], metrics: ["accuracy": 0.85, "f1": 0.7]),
            RunDiff.StepFacts(name: "new", status: .failed, reused: false),
        ]
        let diff = RunDiff.compare(a: "run-a", steps: a, b: "run-b", steps: b)
        #expect(diff.added == ["new"])
        #expect(diff.removed == ["old"])
        #expect(diff.steps.map(\.step) == ["prep", "train"])
        let prep = diff.steps[0]
        #expect(prep.differences.isEmpty && prep.sameOutputs == true)
        #expect(prep.b.reused && prep.b.sourceRun == "run-a" && !prep.a.reused)
        let train = diff.steps[1]
        #expect(train.differences == ["parameter lr: 0.1 → 0.01"])
        #expect(train.sameOutputs == false)
        #expect(train.metrics.map(\.name) == ["accuracy", "f1", "loss"])
        let accuracy = train.metrics[0]
        #expect(accuracy.a == 0.8 && accuracy.b == 0.85)
        #expect(abs((accuracy.delta ?? 0) - 0.05) < 1e-12)
        #expect(train.metrics[1].a == nil && train.metrics[1].delta == nil)
        #expect(train.metrics[2].b == nil && train.metrics[2].delta == nil)
    }

    @Test func aStepThatNeverBecameReadyIsNotCompared() {
        let a = [RunDiff.StepFacts(name: "s", status: .completed, reused: false, manifest: base, outputs: ["model": "m"])]
        let b = [RunDiff.StepFacts(name: "s", status: .canceled, reused: false)]
        let diff = RunDiff.compare(a: "run-a", steps: a, b: "run-b", steps: b)
        #expect(diff.steps[0].differences == ["not comparable: in run-b the step never became ready (canceled)"])
        #expect(diff.steps[0].sameOutputs == nil)
    }
}

/// A dry run of a step reading a datastore: the content is read when the step is ready, so the
/// prediction says so, whatever it decides.
@Suite struct DatastoreDryRunTests {
    /// write (output at paths/staged) → read (reads paths/staged after write's marker).
    private func plan() -> PipelinePlan {
        let write = PlannedStep(
            name: "write", commandTemplate: "write", command: CommandTemplate(segments: [.text("write")]),
            outputs: [
                StepDataOutput(name: "staged", type: .uriFolder, path: "azureml://datastores/shared/paths/staged"),
                StepDataOutput(name: "marker", type: .uriFile),
            ]
        )
        let read = PlannedStep(
            name: "read", commandTemplate: "read", command: CommandTemplate(segments: [.text("read")]),
            inputs: [
                StepDataInput(name: "staged", type: .uriFolder, source: .uri("azureml://datastores/shared/paths/staged")),
                StepDataInput(name: "after", type: .uriFile, source: .stepOutput(step: "write", output: "marker")),
            ],
            outputs: [StepDataOutput(name: "seen", type: .uriFile)]
        )
        return PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [write, read], outputs: [])
    }

    @Test func aDatastoreInputIsSaidToBeReadAtRunTime() {
        let plan = plan()
        let writeManifest = CacheManifest(step: plan.steps[0], inputs: [:], code: nil)
        let readManifest = CacheManifest(step: plan.steps[1], inputs: ["staged": "content-1", "after": "marker-1"], code: nil)
        var cache = FakeCache()
        cache.entries[writeManifest.key] = .hit(run: "run-1", outputs: ["staged": "staged-1", "marker": "marker-1"])
        cache.entries[readManifest.key] = .hit(run: "run-1", outputs: ["seen": "seen-1"])
        cache.history = ["write": ("run-1", writeManifest), "read": ("run-1", readManifest)]

        let same = DryRunPlanner(
            plan: plan, localInputs: [:], code: [:], force: [], datastoreReads: ["read\u{1F}staged": .present(digest: "content-1")]
        ).decide(using: cache)
        #expect(same.steps[1].decision == "reuse")
        #expect(same.steps[1].reasons == ["input staged: azureml://datastores/shared/paths/staged is read at run time; predicted from what it holds now"])

        let changed = DryRunPlanner(
            plan: plan, localInputs: [:], code: [:], force: [], datastoreReads: ["read\u{1F}staged": .present(digest: "content-2")]
        ).decide(using: cache)
        #expect(changed.steps[1].decision == "run")
        #expect(changed.steps[1].reasons.first == "input staged: azureml://datastores/shared/paths/staged changed")

        let absent = DryRunPlanner(
            plan: plan, localInputs: [:], code: [:], force: [], datastoreReads: ["read\u{1F}staged": .absent(writers: ["write"])]
        ).decide(using: cache)
        #expect(absent.steps[1].decision == "depends")
        #expect(absent.steps[1].upstream == ["write"])
        #expect(absent.steps[1].reasons == ["input staged: azureml://datastores/shared/paths/staged is read at run time; it does not exist yet"])
    }
}
