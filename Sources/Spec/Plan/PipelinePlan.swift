/// A pipeline file, loaded, validated and flattened into the leaf command steps that actually run.
///
/// Produced by `PipelineLoader.load(file:overrides:)`. Everything a coordinator needs to run the
/// pipeline is here; nothing refers back to the YAML text. Local paths are absolute paths on the
/// machine that loaded the file: the submitting client snapshots them before sending the plan.
public struct PipelinePlan: Sendable, Codable, Hashable {
    /// `display_name`, else the pipeline file's name without its extension.
    public var name: String
    /// Absolute path of the pipeline file.
    public var sourceFile: String
    /// `experiment_name`, when the file sets one.
    public var experimentName: String?
    /// Pipeline-wide settings.
    public var settings: PipelineSettings
    /// Leaf command steps in a topological order (file order wherever the edges allow it).
    public var steps: [PlannedStep]
    /// Pipeline-level outputs and the step outputs bound to them.
    public var outputs: [PipelineOutputBinding]
    /// Non-fatal findings (unknown keys and the like), each naming file, line and field.
    public var warnings: [String]

    public init(
        name: String, sourceFile: String, experimentName: String? = nil, settings: PipelineSettings,
        steps: [PlannedStep], outputs: [PipelineOutputBinding], warnings: [String] = []
    ) {
        self.name = name
        self.sourceFile = sourceFile
        self.experimentName = experimentName
        self.settings = settings
        self.steps = steps
        self.outputs = outputs
        self.warnings = warnings
    }
}

/// `settings:` of a pipeline job.
public struct PipelineSettings: Sendable, Codable, Hashable {
    /// `settings.default_compute` as written (e.g. `azureml:cpu-highmem`).
    public var defaultCompute: String?
    /// `settings.continue_on_step_failure`; false by default.
    public var continueOnStepFailure: Bool
    /// `settings.force_rerun`; false by default.
    public var forceRerun: Bool
    /// `settings.default_datastore` without `azureml:`: the datastore `${{default_datastore}}` names
    /// (nil: the coordinator's default).
    public var defaultDatastore: String?

    public init(defaultCompute: String? = nil, continueOnStepFailure: Bool = false, forceRerun: Bool = false, defaultDatastore: String? = nil) {
        self.defaultDatastore = defaultDatastore
        self.defaultCompute = defaultCompute
        self.continueOnStepFailure = continueOnStepFailure
        self.forceRerun = forceRerun
    }
}

/// One leaf command step, ready to be scheduled once its data inputs exist.
public struct PlannedStep: Sendable, Codable, Hashable {
    /// The step's path in the pipeline: `train`, or `fast/train` inside a pipeline node.
    public var name: String
    /// `display_name` of the node or its component.
    public var displayName: String?
    /// The command as written in the component or inline job (after YAML folding), before any
    /// substitution. Part of the cache key.
    public var commandTemplate: String
    /// The command with literal parameters substituted and `$[[...]]` segments resolved; data
    /// inputs and outputs remain placeholders that the worker fills with local paths.
    public var command: CommandTemplate
    /// Every parameter (literal) input that has a value, rendered as Azure renders it
    /// (Python `str()` forms). Part of the cache key.
    public var parameters: [String: String]
    /// Data inputs that are bound (an unset optional input is absent).
    public var inputs: [StepDataInput]
    /// Declared outputs.
    public var outputs: [StepDataOutput]
    /// Absolute path of the `code:` directory on the loading machine, when the step has one.
    public var codeDirectory: String?
    /// Canonical JSON text of the environment definition (sorted keys), or `""` when none.
    public var environment: String
    /// The compute the step asks for, as written: the node's `compute`, else
    /// `settings.default_compute`, else the job's top-level `compute`.
    public var compute: String?
    /// `limits.timeout` in seconds.
    public var timeoutSeconds: Int?
    /// `is_deterministic` of the component; true by default.
    public var isDeterministic: Bool
    /// `environment_variables` of the node.
    public var environmentVariables: [String: String]
    /// The node's `retry:` block (a Conduit extension), or nil: a user failure is final.
    public var retry: RetrySettings?
    /// `resources:` of the step over its component's, or nil when neither asks for anything;
    /// not part of the cache key.
    public var resources: StepResources?
    /// What `environment` resolves to on a worker (see `StepEnvironment`), or nil when the step names
    /// none (it runs with the worker's own `PATH`). Part of the cache key.
    public var environmentSetup: StepEnvironment?
    /// The registered component the step runs, at its resolved version (`azureml:train:2`,
    /// `azureml://registries/shared/components/train/versions/2`); nil for a component file or inline
    /// job. Not part of the cache key: a new version with the same content still reuses.
    public var component: String?
    /// For a trial of a sweep, the sweep step it belongs to (`tune` for `tune/trial_3`).
    public var trialOf: String?
    /// For a sweep step, its trials and how the best is chosen; the coordinator completes such a
    /// step itself (it never runs on a worker), its outputs those of the best trial.
    public var sweep: SweepSelection?

    public init(
        name: String, displayName: String? = nil, commandTemplate: String, command: CommandTemplate,
        parameters: [String: String] = [:], inputs: [StepDataInput] = [], outputs: [StepDataOutput] = [],
        codeDirectory: String? = nil, environment: String = "", compute: String? = nil,
        timeoutSeconds: Int? = nil, isDeterministic: Bool = true, environmentVariables: [String: String] = [:],
        retry: RetrySettings? = nil, resources: StepResources? = nil, environmentSetup: StepEnvironment? = nil
    ) {
        self.environmentSetup = environmentSetup
        self.retry = retry
        self.resources = resources.flatMap { $0.isEmpty ? nil : $0 }
        self.name = name
        self.displayName = displayName
        self.commandTemplate = commandTemplate
        self.command = command
        self.parameters = parameters
        self.inputs = inputs
        self.outputs = outputs
        self.codeDirectory = codeDirectory
        self.environment = environment
        self.compute = compute
        self.timeoutSeconds = timeoutSeconds
        self.isDeterministic = isDeterministic
        self.environmentVariables = environmentVariables
    }

    /// Whether the coordinator completes this step itself (a sweep step) instead of a worker.
    public var isSweep: Bool { sweep != nil }

    /// Names of the steps whose outputs this step reads.
    public var upstreamSteps: [String] {
        var seen = Set<String>()
        var result: [String] = []
        for input in inputs {
            if case .stepOutput(let step, _) = input.source, seen.insert(step).inserted {
                result.append(step)
            }
        }
        return result
    }
}

/// Kinds of data that flow between steps.
public enum DataType: String, Sendable, Codable, Hashable, CaseIterable {
    case uriFile = "uri_file"
    case uriFolder = "uri_folder"
    case mltable
    case customModel = "custom_model"
    case mlflowModel = "mlflow_model"
    case tritonModel = "triton_model"

    /// Whether the data is a single file (only `uri_file`); every other kind is a folder.
    public var isFile: Bool { self == .uriFile }
}

/// A bound data input of a step.
public struct StepDataInput: Sendable, Codable, Hashable {
    public var name: String
    public var type: DataType
    /// `mode` as written (`ro_mount`, `download`, ...), when given.
    public var mode: String?
    public var source: DataSource

    public init(name: String, type: DataType, mode: String? = nil, source: DataSource) {
        self.name = name
        self.type = type
        self.mode = mode
        self.source = source
    }
}

extension StepDataInput {
    /// The workspace data asset this input names when the loading machine's registry did not hold
    /// it (`azureml:NAME:VERSION` or `azureml:NAME@latest` left as a URI): the coordinator resolves it
    /// among the outputs runs registered.
    public var registeredDataReference: AssetReference? {
        guard case .uri(let uri) = source, case .reference(let reference) = AssetReference.parse(uri, kind: .data),
              case .workspace = reference.scope else { return nil }
        return reference
    }

    /// The `azureml://datastores/NAME/paths/PATH` this input reads, when it reads a datastore: the
    /// coordinator snapshots it when the step becomes ready (its upstream steps done), not when the
    /// run is submitted, so an earlier step of the same run may write it.
    public var datastoreURI: String? {
        guard case .uri(let uri) = source, DatastorePath.isDatastoreURI(uri) else { return nil }
        return uri
    }
}

/// Where a data input's bytes come from.
public enum DataSource: Sendable, Codable, Hashable {
    /// An output of another step of the same plan.
    case stepOutput(step: String, output: String)
    /// A file or directory on the loading machine (absolute path).
    case localPath(String)
    /// A URI Conduit does not resolve itself yet (`azureml://...`, `https://...`); passed as text.
    case uri(String)
}

/// A declared output of a step.
public struct StepDataOutput: Sendable, Codable, Hashable {
    public var name: String
    public var type: DataType
    /// Where the output is also written once the step completes, as written in the file:
    /// `azureml://datastores/NAME/paths/...`, possibly with `${{name}}`, `${{output_name}}` and
    /// `${{default_datastore}}` (see `DatastorePath`). Not part of the cache key: a reused output
    /// is written there too.
    public var path: String?
    /// The data asset the output is registered as once the step completes (`name:` and `version:`
    /// of the output). Not part of the cache key: registering a version never changes a key.
    public var asset: OutputAssetName?
    /// Whether this is the step's default artifacts (the output named `artifacts` that the command
    /// does not write itself): a folder holding the `outputs/` and `logs/` folders the command left
    /// in its working directory, collected when the step succeeds. Part of the cache key.
    public var isDefaultArtifacts: Bool

    public init(name: String, type: DataType, path: String? = nil, asset: OutputAssetName? = nil, isDefaultArtifacts: Bool = false) {
        self.name = name
        self.type = type
        self.path = path
        self.asset = asset
        self.isDefaultArtifacts = isDefaultArtifacts
    }

    /// The name of the default artifacts output (see ``isDefaultArtifacts``).
    public static let defaultArtifactsName = "artifacts"

    private enum CodingKeys: String, CodingKey {
        case name, type, path, asset, isDefaultArtifacts
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        type = try container.decode(DataType.self, forKey: .type)
        path = try container.decodeIfPresent(String.self, forKey: .path)
        asset = try container.decodeIfPresent(OutputAssetName.self, forKey: .asset)
        // Absent in plans recorded before default artifacts existed.
        isDefaultArtifacts = try container.decodeIfPresent(Bool.self, forKey: .isDefaultArtifacts) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(type, forKey: .type)
        try container.encodeIfPresent(path, forKey: .path)
        try container.encodeIfPresent(asset, forKey: .asset)
        // Written only when set, so a plan without default artifacts encodes as it always did.
        if isDefaultArtifacts { try container.encode(true, forKey: .isDefaultArtifacts) }
    }
}

/// An output's `name:` and `version:`: the data asset it is registered as when its step completes,
/// resolved later as `azureml:NAME:VERSION` or `azureml:NAME@latest`.
public struct OutputAssetName: Sendable, Codable, Hashable {
    public var name: String
    /// The version to register; nil: one more than the largest integer version, unless the latest
    /// version already holds the same content (then that version stands).
    public var version: String?

    public init(name: String, version: String? = nil) {
        self.name = name
        self.version = version
    }

    /// `azureml:NAME:VERSION`, or `azureml:NAME` without a version.
    public var description: String { "azureml:\(name)" + (version.map { ":\($0)" } ?? "") }
}

/// A pipeline-level output and the step output that fills it.
public struct PipelineOutputBinding: Sendable, Codable, Hashable {
    public var name: String
    public var type: DataType
    public var step: String
    public var output: String

    public init(name: String, type: DataType, step: String, output: String) {
        self.name = name
        self.type = type
        self.step = step
        self.output = output
    }
}
