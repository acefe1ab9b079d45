import Protocol
import Spec

/// The way up from a step's output: the step that produced it, the steps whose outputs it read,
/// and on through registered data assets into the runs that produced them. Pure: the caller says
/// what each run holds.
public enum LineageWalk {
    /// What the walk needs of one run.
    public struct RunView: Sendable {
        public var id: String
        public var pipeline: String
        public var plan: PipelinePlan
        public var steps: [String: StepView]

        public init(id: String, pipeline: String, plan: PipelinePlan, steps: [String: StepView]) {
            self.id = id
            self.pipeline = pipeline
            self.plan = plan
            self.steps = steps
        }
    }

    /// What the walk needs of one step of a run.
    public struct StepView: Sendable {
        public var status: String
        /// The step's cache manifest (its inputs' digests and its code), once its inputs were resolved.
        public var manifest: CacheManifest?
        public var reusedFrom: String?

        public init(status: String, manifest: CacheManifest?, reusedFrom: String?) {
            self.status = status
            self.manifest = manifest
            self.reusedFrom = reusedFrom
        }
    }

    /// The prefix of a plan input's local path that says the coordinator resolved it to a data asset
    /// a run registered (`azureml:NAME:VERSION`).
    public static let assetPrefix = "azureml:"

    /// The steps above `step` of `run`, that step first, breadth-first (nearest first), each once;
    /// at most `limit`. `assets`: registered data assets by `NAME:VERSION`. A run `runView` does not
    /// know (pruned) ends the walk on that side.
    public static func upstream(
        run: String, step: String, assets: [String: OutputAsset], limit: Int, runView: (String) -> RunView?
    ) -> (steps: [LineageStep], truncated: Bool) {
        var found: [LineageStep] = []
        var queue: [(run: String, step: String)] = [(run, step)]
        var seen: Set<String> = [run + "\u{1F}" + step]
        var views: [String: RunView?] = [:]
        func view(_ id: String) -> RunView? {
            if let known = views[id] { return known }
            let loaded = runView(id)
            views[id] = loaded
            return loaded
        }
        var index = 0
        while index < queue.count {
            let (runID, name) = queue[index]
            index += 1
            guard let run = view(runID), let planned = run.plan.steps.first(where: { $0.name == name }) else { continue }
            if found.count == limit { return (found, true) }
            let recorded = run.steps[name]
            var inputs: [LineageInput] = []
            for input in planned.inputs {
                let digest = recorded?.manifest?.inputs[input.name]?.digest
                var entry = LineageInput(name: input.name, type: input.type.rawValue, origin: .pipelineInput, digest: digest)
                var next: (run: String, step: String)?
                switch input.source {
                case .stepOutput(let producer, let output):
                    entry.origin = .stepOutput
                    entry.fromRun = runID
                    entry.fromStep = producer
                    entry.fromOutput = output
                    next = (runID, producer)
                case .localPath(let path) where path.hasPrefix(assetPrefix):
                    entry.origin = .asset
                    entry.asset = path
                    if let asset = assets[String(path.dropFirst(assetPrefix.count))] {
                        entry.fromRun = asset.runID
                        entry.fromStep = asset.step
                        entry.fromOutput = asset.output
                        next = (asset.runID, asset.step)
                    }
                case .localPath(let path):
                    entry.path = path
                case .uri(let uri):
                    entry.origin = .uri
                    entry.path = uri
                    // Content read from a datastore keeps the digest of what was read.
                    if input.datastoreURI == nil { entry.digest = nil }
                }
                inputs.append(entry)
                if let next, seen.insert(next.run + "\u{1F}" + next.step).inserted {
                    queue.append(next)
                }
            }
            found.append(LineageStep(
                runID: runID, pipeline: run.pipeline, step: name, status: recorded?.status ?? "unknown",
                reusedFrom: recorded?.reusedFrom, command: planned.commandTemplate, code: recorded?.manifest?.code?.digest,
                environment: planned.environment, parameters: planned.parameters, inputs: inputs
            ))
        }
        return (found, false)
    }
}
