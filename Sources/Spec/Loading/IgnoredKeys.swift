/// Keys Azure ML reads, and Conduit accepts but does nothing with, by where they stand, each with
/// why: every one found in a file gets a warning (`SpecReader.warnIgnoredKeys`).
///
/// Descriptive keys (`description`, `tags`, `properties`, `comment`, `$schema`) change nothing in an
/// Azure run either, and get no warning. Keys that neither Azure nor Conduit knows get the
/// unknown-key warning instead.
enum IgnoredKeys {
    private static let identity = "Conduit runs each step as the worker's own user; Azure identities (managed, user_identity, aml_token) do not apply"
    private static let services = "Conduit starts no interactive services (Jupyter, SSH, TensorBoard, VS Code) beside a step"
    private static let readOnly = "Azure sets it on a job or asset it has created; it is output, not input"
    private static let distribution = "Conduit runs a step as one process on one worker and sets up no distributed launcher (MPI, PyTorch, TensorFlow)"

    /// Top-level keys of a pipeline job.
    static let pipelineJob: [String: String] = [
        "identity": identity, "services": services,
        "id": readOnly, "status": readOnly, "creation_context": readOnly, "log_files": readOnly,
    ]
    /// Keys of `settings:`.
    static let settings: [String: String] = [
        "on_init": "Conduit runs the step it names as an ordinary step, ordered only by its inputs, not before the others",
        "on_finalize": "Conduit runs the step it names as an ordinary step, ordered only by its inputs, not after the others",
    ]
    /// Keys of a command node.
    static let commandNode: [String: String] = [
        "identity": identity, "services": services, "distribution": distribution,
        "queue_settings": "job tiers and priorities are Azure's; Conduit places steps as workers free up",
    ]
    /// Keys of a sweep node.
    static let sweepNode: [String: String] = [
        "identity": identity,
        "queue_settings": "job tiers and priorities are Azure's; Conduit places trials as workers free up",
    ]
    /// Keys of a pipeline node.
    static let pipelineNode: [String: String] = [
        "settings": "the pipeline job's settings apply to every step, those inside a pipeline component included",
    ]
    /// Keys of `limits:` on a command node.
    static let commandLimits: [String: String] = [
        "max_total_trials": "it applies to sweep steps only", "max_concurrent_trials": "it applies to sweep steps only",
        "trial_timeout": "it applies to sweep steps only",
    ]
    /// Top-level keys of a command component.
    static let commandComponent: [String: String] = [
        "distribution": distribution, "id": readOnly, "creation_context": readOnly, "is_anonymous": readOnly,
    ]
    /// Top-level keys of a pipeline component.
    static let pipelineComponent: [String: String] = [
        "id": readOnly, "creation_context": readOnly,
    ]
    /// Keys of an inline environment.
    static let inlineEnvironment: [String: String] = [
        "os_type": "steps run on the worker's own operating system",
        "inference_config": "it configures model serving, which Conduit does not do",
    ]
    /// Keys of `resources:`.
    static let resources: [String: String] = [
        "shm_size": "Conduit passes no container settings; a step's shared memory is the worker's",
        "docker_args": "Conduit passes no container settings; a step runs with the worker's own",
        "max_instance_count": "Conduit runs each step on one worker",
        "locations": "Azure regions do not apply to Conduit's workers",
    ]
    /// Keys of an input declaration or a data input.
    static let input: [String: String] = [
        "path_on_compute": "Conduit gives the step the input's own path (in ${{inputs.NAME}}), not a fixed path",
    ]
    /// Keys of an output declaration.
    static let outputDeclaration: [String: String] = [
        "early_available": "an output is available to later steps when its step has completed",
        "is_control": "control outputs drive Azure's control-flow nodes, which Conduit does not run",
    ]
}
