import Artifacts
import Spec

extension CacheManifest {
    /// The manifest of `step` given its resolved inputs (name → artifact digest, or the URI for
    /// a URI input) and its code snapshot: what a run resolves and what a dry run predicts, built
    /// in this one place so that both always compute the same key.
    ///
    /// An input read from a datastore records both the digest of the content read and its URI, so
    /// that a change is explained by naming the path.
    public init(step: PlannedStep, inputs: [String: String], code: Code?) {
        var manifestInputs: [String: Input] = [:]
        for input in step.inputs {
            let value = inputs[input.name] ?? ""
            if let uri = input.datastoreURI {
                manifestInputs[input.name] = Input(type: input.type.rawValue, digest: value, uri: uri)
            } else if case .uri = input.source {
                manifestInputs[input.name] = Input(type: input.type.rawValue, uri: value)
            } else {
                manifestInputs[input.name] = Input(type: input.type.rawValue, digest: value)
            }
        }
        self.init(
            command: step.commandTemplate, parameters: step.parameters, code: code, environment: step.environment,
            inputs: manifestInputs, outputs: Dictionary(uniqueKeysWithValues: step.outputs.map { ($0.name, Self.outputType($0)) }),
            environmentSetup: step.environmentSetup
        )
    }

    /// An output's type in the manifest: the default artifacts (what the command leaves in
    /// `./outputs` and `./logs`) differ from a folder the command writes at `${{outputs.artifacts}}`.
    static func outputType(_ output: StepDataOutput) -> String {
        output.isDefaultArtifacts ? "default_artifacts" : output.type.rawValue
    }

    /// The cache key: the SHA-256 of the canonical JSON, in hex.
    public var key: String {
        Self.key(ofCanonicalJSON: canonicalJSON)
    }

    /// The cache key of a manifest's canonical JSON text.
    public static func key(ofCanonicalJSON json: String) -> String {
        SHA256Hasher.digest(of: Array(json.utf8)).hex
    }

    /// Why `step` may not reuse a cached result, or nil when it may: `settings.force_rerun`, a
    /// component with `is_deterministic: false`, or the step named in `--force`.
    public static func reuseDisabledReason(for step: PlannedStep, settings: PipelineSettings, forced: Bool) -> String? {
        if settings.forceRerun { return "settings.force_rerun is set" }
        if !step.isDeterministic { return "the component sets is_deterministic: false" }
        if forced { return "--force \(step.name) was given" }
        return nil
    }
}
