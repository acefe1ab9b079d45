/// A data asset a run registered: a step output with `name:` (and optionally `version:`), recorded by
/// the coordinator when the step completed (`GET /v1/data`, `conduit data list|show`).
public struct OutputAsset: Codable, Hashable, Sendable {
    public var name: String
    public var version: String
    /// `uri_file`, `uri_folder` or `mltable`.
    public var type: String
    /// The output's content: the digest of its tree manifest.
    public var digest: String
    /// The run, step and output that produced it.
    public var runID: String
    public var step: String
    public var output: String
    /// Milliseconds since 1970; `@latest` is the most recently created version.
    public var createdAt: Int64

    public init(name: String, version: String, type: String, digest: String, runID: String, step: String, output: String, createdAt: Int64) {
        self.name = name
        self.version = version
        self.type = type
        self.digest = digest
        self.runID = runID
        self.step = step
        self.output = output
        self.createdAt = createdAt
    }

    /// `azureml:NAME:VERSION`.
    public var reference: String { "azureml:\(name):\(version)" }
}

/// What `conduit lineage` asks (`GET /v1/lineage`): a step's output, or a registered data asset.
public enum LineageSubject: Hashable, Sendable {
    case output(run: String, step: String, output: String)
    /// `selector`: a version, or `latest`.
    case asset(name: String, selector: String)
}

/// Where some data came from and where it went (`conduit lineage --json`).
public struct LineageReport: Codable, Hashable, Sendable {
    /// The data asked about: where it was produced, its content digest and the assets naming it.
    public var subject: LineageOutput
    /// The steps it came from: the producing step first, then the steps whose outputs it read,
    /// nearest first (across runs, through registered data assets).
    public var upstream: [LineageStep]
    /// The steps, in any run, that read the same content, oldest first.
    public var downstream: [LineageUse]
    /// Whether `upstream` or `downstream` was cut at its limit.
    public var truncated: Bool

    public init(subject: LineageOutput, upstream: [LineageStep], downstream: [LineageUse], truncated: Bool = false) {
        self.subject = subject
        self.upstream = upstream
        self.downstream = downstream
        self.truncated = truncated
    }
}

/// One step output and its content.
public struct LineageOutput: Codable, Hashable, Sendable {
    public var runID: String
    public var step: String
    public var output: String
    public var type: String?
    public var digest: String
    /// The registered data assets holding this content (`azureml:NAME:VERSION`), oldest first.
    public var assets: [String]

    public init(runID: String, step: String, output: String, type: String?, digest: String, assets: [String]) {
        self.runID = runID
        self.step = step
        self.output = output
        self.type = type
        self.digest = digest
        self.assets = assets
    }
}

/// A step on the way up: what it ran and what it read.
public struct LineageStep: Codable, Hashable, Sendable {
    public var runID: String
    public var pipeline: String
    public var step: String
    public var status: String
    /// The run whose execution this step reused, when it was a cache hit.
    public var reusedFrom: String?
    /// The command as written (before inputs and parameters are filled in).
    public var command: String
    /// The digest of the step's code snapshot, when it has code.
    public var code: String?
    public var environment: String
    public var parameters: [String: String]
    public var inputs: [LineageInput]

    public init(
        runID: String, pipeline: String, step: String, status: String, reusedFrom: String?, command: String, code: String?,
        environment: String, parameters: [String: String], inputs: [LineageInput]
    ) {
        self.runID = runID
        self.pipeline = pipeline
        self.step = step
        self.status = status
        self.reusedFrom = reusedFrom
        self.command = command
        self.code = code
        self.environment = environment
        self.parameters = parameters
        self.inputs = inputs
    }
}

/// One input of a step on the way up, and where its data came from.
public struct LineageInput: Codable, Hashable, Sendable {
    public enum Origin: String, Codable, Hashable, Sendable {
        /// Another step's output (`fromRun`, `fromStep`, `fromOutput`).
        case stepOutput = "step_output"
        /// A registered data asset a run produced (`asset`, and `fromRun`/`fromStep`/`fromOutput`).
        case asset
        /// Local data uploaded at submission, or a datastore path read then (`path`).
        case pipelineInput = "pipeline_input"
        /// A URI passed to the step as text (`path`).
        case uri
    }

    public var name: String
    public var type: String
    public var origin: Origin
    /// The content digest (nil for a URI).
    public var digest: String?
    public var path: String?
    public var asset: String?
    public var fromRun: String?
    public var fromStep: String?
    public var fromOutput: String?

    public init(
        name: String, type: String, origin: Origin, digest: String? = nil, path: String? = nil, asset: String? = nil,
        fromRun: String? = nil, fromStep: String? = nil, fromOutput: String? = nil
    ) {
        self.name = name
        self.type = type
        self.origin = origin
        self.digest = digest
        self.path = path
        self.asset = asset
        self.fromRun = fromRun
        self.fromStep = fromStep
        self.fromOutput = fromOutput
    }
}

/// A step that read the content, on the way down.
public struct LineageUse: Codable, Hashable, Sendable {
    public var runID: String
    public var pipeline: String
    public var step: String
    public var input: String
    public var status: String
    /// How the step's pipeline named the data, when it was a registered asset (`azureml:model@latest`
    /// resolved to `azureml:model:3` reads as `azureml:model:3`).
    public var asset: String?
    /// When the run was submitted, milliseconds since 1970.
    public var submittedAt: Int64

    public init(runID: String, pipeline: String, step: String, input: String, status: String, asset: String?, submittedAt: Int64) {
        self.runID = runID
        self.pipeline = pipeline
        self.step = step
        self.input = input
        self.status = status
        self.asset = asset
        self.submittedAt = submittedAt
    }
}
