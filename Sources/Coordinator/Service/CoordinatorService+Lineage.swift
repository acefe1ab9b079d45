import Foundation
import Protocol
import Spec
import Store

/// The data assets runs registered, as the registry's rules see them (`@latest`, next versions),
/// and each by `NAME:VERSION`.
struct RegisteredOutputs {
    var index: RegistryIndex
    var byKey: [String: OutputAsset]

    init(_ assets: [OutputAsset]) {
        index = OutputRegistration.index(of: assets)
        byKey = Dictionary(assets.map { ($0.name + ":" + $0.version, $0) }, uniquingKeysWith: { first, _ in first })
    }

    mutating func insert(_ asset: OutputAsset) {
        index.insert(OutputRegistration.record(of: asset))
        byKey[asset.name + ":" + asset.version] = asset
    }
}

extension CoordinatorService {
    // MARK: Registered outputs

    /// The registered outputs, read from the store on first use.
    func loadedRegisteredOutputs() throws -> RegisteredOutputs {
        if let registeredOutputs { return registeredOutputs }
        let loaded = RegisteredOutputs(try store.outputAssets())
        registeredOutputs = loaded
        return loaded
    }

    /// Registers the outputs of `step` that name a data asset (`name:`, `version:`), when the step
    /// completes, whether it ran or was reused (see `OutputRegistration`). The rows go into the
    /// same transaction as the step's completion. A version that exists with other content is not
    /// registered: the run's event and the coordinator's log say so, and the step stays completed.
    func registerOutputs(runID: String, step: String, outputs: [String: String]) {
        guard let planned = runs[runID]?.planned[step], planned.outputs.contains(where: { $0.asset != nil }) else { return }
        var registered: RegisteredOutputs
        do {
            registered = try loadedRegisteredOutputs()
        } catch {
            logger.error("cannot read the registered data assets: \(error)", metadata: ["run": "\(runID)", "step": "\(step)"])
            batch.append(EventRecord(runID: runID, step: step, kind: "data_register_failed", detail: "the registered data assets cannot be read: \(error)", at: wallNow()))
            return
        }
        for output in planned.outputs {
            guard let asset = output.asset, let digest = outputs[output.name] else { continue }
            let detail: String
            let kind: String
            switch OutputRegistration.decide(registered.index, asset: asset, digest: digest) {
            case .create(let version):
                let created = OutputAsset(
                    name: asset.name, version: version, type: output.type.rawValue, digest: digest, runID: runID, step: step,
                    output: output.name, createdAt: wallNow()
                )
                registered.insert(created)
                batch.insert(OutputAssetRecord(created))
                kind = "data_registered"
                detail = "\(output.name) → \(created.reference)"
                logger.info("output registered", metadata: ["run": "\(runID)", "step": "\(step)", "output": "\(output.name)", "asset": "\(created.reference)"])
            case .unchanged(let version):
                kind = "data_registered"
                detail = "\(output.name) → azureml:\(asset.name):\(version) (already registered with identical content)"
            case .conflict(let version, let suggestion):
                let holder = registered.byKey[asset.name + ":" + version].map { " by run \($0.runID) step \($0.step)" } ?? ""
                kind = "data_register_failed"
                detail = "\(output.name): azureml:\(asset.name):\(version) is already registered\(holder) with other content, and a registered version never changes; give version: \(suggestion), or none for the next one"
                logger.error("output not registered", metadata: ["run": "\(runID)", "step": "\(step)", "output": "\(output.name)", "reason": "\(detail)"])
            }
            batch.append(EventRecord(runID: runID, step: step, kind: kind, detail: detail, at: wallNow()))
        }
        registeredOutputs = registered
    }

    /// Every data asset runs registered, oldest first (`GET /v1/data`).
    public func outputAssets() throws -> [OutputAsset] {
        makeDurable()
        return try loadedRegisteredOutputs().byKey.values.sorted { lhs, rhs in
            lhs.createdAt != rhs.createdAt ? lhs.createdAt < rhs.createdAt : lhs.reference < rhs.reference
        }
    }

    /// The registered output `name` at `selector` (a version, or `latest`) (`GET /v1/data/NAME`).
    ///
    /// - Throws: ``CoordinatorError`` `notFound`, naming what exists.
    public func outputAsset(name: String, selector: String) throws -> OutputAsset {
        let registered = try loadedRegisteredOutputs()
        let chosen: AssetReference.Selector = selector == "latest" ? .label("latest") : .version(selector)
        switch registered.index.resolve(name, chosen, kind: .data) {
        case .success(let record):
            guard let asset = registered.byKey[record.name + ":" + record.version] else {
                throw CoordinatorError(.notFound, "no data asset \(name):\(record.version)")
            }
            return asset
        case .failure(let failure):
            throw CoordinatorError(.notFound, "\(failure.message) among the outputs runs registered")
        }
    }

    /// Resolves the data inputs left to the coordinator (`azureml:NAME:VERSION`, `azureml:NAME@latest`
    /// that the submitting machine's registry does not hold) against the outputs runs registered:
    /// each becomes the registered content, by digest, and the plan records the version it resolved
    /// to (`azureml:NAME:VERSION`). An input with the default type takes the asset's type.
    ///
    /// - Throws: ``CoordinatorError`` `invalidRequest` naming the step, the input and what is registered.
    func resolvingRegisteredData(_ request: SubmitRequest, plan: PipelinePlan) throws -> (SubmitRequest, PipelinePlan) {
        var plan = plan
        var request = request
        var changed = false
        for stepIndex in plan.steps.indices {
            for inputIndex in plan.steps[stepIndex].inputs.indices {
                let input = plan.steps[stepIndex].inputs[inputIndex]
                guard let reference = input.registeredDataReference, case .uri(let uri) = input.source else { continue }
                let step = plan.steps[stepIndex].name
                let registered = try loadedRegisteredOutputs()
                switch registered.index.resolve(reference.name, reference.selector, kind: .data) {
                case .success(let record):
                    guard let asset = registered.byKey[record.name + ":" + record.version] else { continue }
                    plan.steps[stepIndex].inputs[inputIndex].source = .localPath(LineageWalk.assetPrefix + record.name + ":" + record.version)
                    if input.type == .uriFolder, let type = DataType(rawValue: asset.type) {
                        plan.steps[stepIndex].inputs[inputIndex].type = type
                    }
                    request.localInputs[step + "\u{1F}" + input.name] = asset.digest
                    changed = true
                case .failure(let failure):
                    throw CoordinatorError(
                        .invalidRequest,
                        "step \(step), input \(input.name): \(uri): \(failure.message) among the outputs runs registered (and the submitting machine's registry has no data asset by that name)"
                    )
                }
            }
        }
        guard changed else { return (request, plan) }
        request.planJSON = PlanJSON.encode(plan)
        return (request, plan)
    }

    // MARK: Lineage

    /// Where some data came from and which steps read it (`GET /v1/lineage`, `conduit lineage`):
    /// up through the steps and registered data assets it came from, down to every step, in any
    /// run, whose inputs had the same content. At most `limit` steps each way.
    ///
    /// - Throws: ``CoordinatorError`` `notFound` for an unknown run, step, output or asset.
    public func lineage(of subject: LineageSubject, limit: Int = 500) throws -> LineageReport {
        makeDurable()
        let registered = try loadedRegisteredOutputs()
        let runID: String, step: String, output: String, digest: String
        var type: String?
        switch subject {
        case .asset(let name, let selector):
            let asset = try outputAsset(name: name, selector: selector)
            (runID, step, output, digest, type) = (asset.runID, asset.step, asset.output, asset.digest, asset.type)
        case .output(let run, let stepName, let outputName):
            guard let record = try store.run(id: run) else { throw CoordinatorError(.notFound, "no run \(run)") }
            let plan = runs[run]?.plan ?? Self.plan(of: record)
            var name = stepName
            var outputName = outputName
            if name.isEmpty {
                // A pipeline output: the step output bound to it.
                guard let binding = plan?.outputs.first(where: { $0.name == outputName }) else {
                    let names = plan?.outputs.map(\.name) ?? []
                    throw CoordinatorError(
                        .notFound,
                        "run \(run) has no pipeline output \(outputName) (\(names.isEmpty ? "it has none" : "outputs: " + names.joined(separator: ", "))); for a step's output give STEP.OUTPUT")
                }
                name = binding.step
                outputName = binding.output
            }
            guard let planned = plan?.steps.first(where: { $0.name == name }) else {
                let names = plan?.steps.map(\.name).joined(separator: ", ") ?? "none readable"
                throw CoordinatorError(.notFound, "run \(run) has no step \(name) (steps: \(names))")
            }
            guard let declared = planned.outputs.first(where: { $0.name == outputName }) else {
                let names = planned.outputs.map(\.name)
                throw CoordinatorError(.notFound, "step \(name) has no output \(outputName) (outputs: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            }
            let recorded = try store.step(runID: run, name: name)
            guard let produced = recorded?.outputsJSON.flatMap(Self.decodeOutputs)?[outputName] else {
                throw CoordinatorError(.notFound, "step \(name) of run \(run) has not produced \(outputName) (its status: \(recorded?.status.rawValue ?? "unknown"))")
            }
            (runID, step, output, digest, type) = (run, name, outputName, produced, declared.type.rawValue)
        }
        let assets = registered.byKey.values.filter { $0.digest == digest }.sorted { $0.createdAt < $1.createdAt }.map(\.reference)
        let (upstream, upTruncated) = LineageWalk.upstream(run: runID, step: step, assets: registered.byKey, limit: limit) { id in
            self.lineageView(of: id)
        }
        var downstream: [LineageUse] = []
        let readers = try store.stepsNaming(digest: digest, limit: limit + 1)
        var plans: [String: PipelinePlan?] = [:]
        for (record, run) in readers.prefix(limit) {
            guard let manifest = record.manifestJSON.flatMap(CacheManifest.decode(json:)) else { continue }
            if plans[run.id] == nil { plans[run.id] = Self.plan(of: run) }
            let planned = plans[run.id]??.steps.first { $0.name == record.name }
            for (input, value) in manifest.inputs.sorted(by: { $0.key < $1.key }) where value.digest == digest {
                var asset: String?
                if case .localPath(let path)? = planned?.inputs.first(where: { $0.name == input })?.source, path.hasPrefix(LineageWalk.assetPrefix) {
                    asset = path
                }
                downstream.append(LineageUse(
                    runID: run.id, pipeline: run.pipeline, step: record.name, input: input, status: record.status.rawValue,
                    asset: asset, submittedAt: run.createdAt
                ))
            }
        }
        return LineageReport(
            subject: LineageOutput(runID: runID, step: step, output: output, type: type, digest: digest, assets: assets),
            upstream: upstream, downstream: downstream, truncated: upTruncated || readers.count > limit
        )
    }

    /// What `LineageWalk` needs of run `id`, from the store (nil for a run that is gone).
    private func lineageView(of id: String) -> LineageWalk.RunView? {
        guard let record = try? store.run(id: id), let plan = runs[id]?.plan ?? Self.plan(of: record),
              let steps = try? store.steps(runID: id) else { return nil }
        var views: [String: LineageWalk.StepView] = [:]
        for step in steps {
            views[step.name] = LineageWalk.StepView(
                status: step.status.rawValue, manifest: step.manifestJSON.flatMap(CacheManifest.decode(json:)),
                reusedFrom: step.reused ? step.sourceRun : nil
            )
        }
        return LineageWalk.RunView(id: id, pipeline: record.pipeline, plan: plan, steps: views)
    }

    /// A step's `outputs_json` (output name → digest).
    static func decodeOutputs(_ json: String) -> [String: String]? {
        try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))
    }
}
