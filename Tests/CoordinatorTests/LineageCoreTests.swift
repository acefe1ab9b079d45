import Coordinator
import Protocol
import Spec
import Testing

/// The pure parts of registered outputs and lineage: what registering decides, and the walk up.
@Suite struct LineageCoreTests {
    func asset(_ name: String, _ version: String, digest: String, at time: Int64, run: String = "r", step: String = "s") -> OutputAsset {
        OutputAsset(name: name, version: version, type: "uri_folder", digest: digest, runID: run, step: step, output: "out", createdAt: time)
    }

    @Test func registeringDecidesByContentAndVersion() {
        let empty = OutputRegistration.index(of: [])
        #expect(OutputRegistration.decide(empty, asset: OutputAssetName(name: "m"), digest: "a") == .create(version: "1"))
        #expect(OutputRegistration.decide(empty, asset: OutputAssetName(name: "m", version: "v7"), digest: "a") == .create(version: "v7"))

        let index = OutputRegistration.index(of: [asset("m", "1", digest: "a", at: 1), asset("m", "2", digest: "b", at: 2), asset("m", "10", digest: "c", at: 3)])
        // No version: the latest stands when it holds the content; otherwise the next integer.
        #expect(OutputRegistration.decide(index, asset: OutputAssetName(name: "m"), digest: "c") == .unchanged(version: "10"))
        #expect(OutputRegistration.decide(index, asset: OutputAssetName(name: "m"), digest: "a") == .create(version: "11"))
        #expect(OutputRegistration.decide(index, asset: OutputAssetName(name: "m"), digest: "z") == .create(version: "11"))
        // A given version: the same content is no change, other content a conflict naming the next free one.
        #expect(OutputRegistration.decide(index, asset: OutputAssetName(name: "m", version: "2"), digest: "b") == .unchanged(version: "2"))
        #expect(OutputRegistration.decide(index, asset: OutputAssetName(name: "m", version: "2"), digest: "z") == .conflict(version: "2", suggestion: "11"))
        // @latest is the most recently created version, whatever the numbers say.
        let later = OutputRegistration.index(of: [asset("m", "5", digest: "a", at: 9), asset("m", "6", digest: "b", at: 3)])
        #expect((try? later.resolve("m", .label("latest"), kind: .data).get())?.version == "5")
    }

    func step(_ name: String, inputs: [StepDataInput] = [], outputs: [String] = ["out"]) -> PlannedStep {
        PlannedStep(
            name: name, commandTemplate: "run \(name)", command: CommandTemplate(segments: [.text("run \(name)")]),
            parameters: ["p": name], inputs: inputs, outputs: outputs.map { StepDataOutput(name: $0, type: .uriFolder) }, environment: "env-\(name)"
        )
    }

    func view(_ id: String, _ steps: [PlannedStep], digests: [String: [String: String]] = [:]) -> LineageWalk.RunView {
        let plan = PipelinePlan(name: "p-\(id)", sourceFile: "/p.yml", settings: PipelineSettings(), steps: steps, outputs: [])
        var views: [String: LineageWalk.StepView] = [:]
        for step in steps {
            let inputs = (digests[step.name] ?? [:]).mapValues { CacheManifest.Input(type: "uri_folder", digest: $0) }
            let manifest = CacheManifest(
                command: step.commandTemplate, parameters: step.parameters, code: .init(digest: "code-\(step.name)", files: [:]),
                environment: step.environment, inputs: inputs, outputs: ["out": "uri_folder"]
            )
            views[step.name] = LineageWalk.StepView(status: "completed", manifest: manifest, reusedFrom: nil)
        }
        return LineageWalk.RunView(id: id, pipeline: "p-\(id)", plan: plan, steps: views)
    }

    @Test func theWalkGoesUpThroughStepsAndIntoTheRunThatRegisteredAnAsset() {
        // Run "one": prep reads uploaded data, train reads prep's output (and registers m:1).
        let one = view("one", [
            step("prep", inputs: [StepDataInput(name: "raw", type: .uriFolder, source: .localPath("/data/raw"))]),
            step("train", inputs: [StepDataInput(name: "clean", type: .uriFolder, source: .stepOutput(step: "prep", output: "out"))]),
        ], digests: ["prep": ["raw": "d-raw"], "train": ["clean": "d-clean"]])
        // Run "two": score reads m:1 and a URI; a second reader of the same step output is seen once.
        let two = view("two", [
            step("score", inputs: [
                StepDataInput(name: "model", type: .uriFolder, source: .localPath("azureml:m:1")),
                StepDataInput(name: "site", type: .uriFolder, source: .uri("https://example.org/x")),
            ]),
        ], digests: ["score": ["model": "d-model"]])
        let assets = ["m:1": asset("m", "1", digest: "d-model", at: 1, run: "one", step: "train")]
        var asked: [String] = []
        let (steps, truncated) = LineageWalk.upstream(run: "two", step: "score", assets: assets, limit: 10) { id in
            asked.append(id)
            return ["one": one, "two": two][id]
        }
        #expect(!truncated)
        #expect(steps.map { "\($0.runID)/\($0.step)" } == ["two/score", "one/train", "one/prep"])
        #expect(asked == ["two", "one"], "each run is read once")
        let score = steps[0]
        #expect(score.inputs.map(\.origin) == [.asset, .uri])
        #expect(score.inputs[0].asset == "azureml:m:1" && score.inputs[0].fromRun == "one" && score.inputs[0].fromStep == "train")
        #expect(score.inputs[0].digest == "d-model" && score.inputs[1].digest == nil && score.inputs[1].path == "https://example.org/x")
        #expect(steps[1].inputs.first?.origin == .stepOutput && steps[1].inputs.first?.fromStep == "prep" && steps[1].code == "code-train")
        #expect(steps[2].inputs.first?.origin == .pipelineInput && steps[2].inputs.first?.path == "/data/raw")
        #expect(steps[2].parameters == ["p": "prep"] && steps[2].environment == "env-prep")
    }

    @Test func aPrunedProducerEndsTheWalkAndTheLimitCutsIt() {
        let only = view("two", [step("score", inputs: [StepDataInput(name: "model", type: .uriFolder, source: .localPath("azureml:m:1"))])])
        let assets = ["m:1": asset("m", "1", digest: "d", at: 1, run: "gone", step: "train")]
        let (steps, truncated) = LineageWalk.upstream(run: "two", step: "score", assets: assets, limit: 10) { $0 == "two" ? only : nil }
        #expect(steps.map(\.step) == ["score"] && !truncated)
        #expect(steps[0].inputs[0].fromRun == "gone", "the producing run is named even when it is no longer kept")

        // A chain of 30 steps, cut at 5.
        let chain = (0..<30).map { index in
            step("s\(index)", inputs: index == 0 ? [] : [StepDataInput(name: "in", type: .uriFolder, source: .stepOutput(step: "s\(index - 1)", output: "out"))])
        }
        let long = view("long", chain)
        let (cut, wasCut) = LineageWalk.upstream(run: "long", step: "s29", assets: [:], limit: 5) { _ in long }
        #expect(cut.map(\.step) == ["s29", "s28", "s27", "s26", "s25"] && wasCut)
        let (whole, notCut) = LineageWalk.upstream(run: "long", step: "s29", assets: [:], limit: 30) { _ in long }
        #expect(whole.count == 30 && !notCut)
    }
}

/// The coordinator's own check of data references, for a client that sends them unchecked.
@Suite(.timeLimit(.minutes(1)))
struct RegisteredDataSubmissionTests {
    @Test func anUnknownRegisteredNameIsRefusedAtSubmissionNamingTheStepAndInput() async throws {
        try await CoordinatorServiceTests().withCoordinator { _, service in
            let plan = PipelinePlan(name: "reader", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
                PlannedStep(
                    name: "read", commandTemplate: "cat", command: CommandTemplate(segments: [.text("cat")]),
                    inputs: [StepDataInput(name: "rows", type: .uriFolder, source: .uri("azureml:nobody-made-this@latest"))]
                ),
            ], outputs: [])
            let request = SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: [])
            var message = ""
            do {
                _ = try await service.submitReadingDatastores(request, plan: plan)
            } catch let error as CoordinatorError {
                message = error.message
            }
            #expect(message.contains("step read, input rows") && message.contains("no data asset named 'nobody-made-this' (none is registered)"), "\(message)")
            #expect(try await service.listRuns(limit: 10).isEmpty, "nothing was started")
        }
    }
}
