/// A command component (from a file or an inline `component:` dict), or the component an inline
/// command job stands for.
struct ComponentSpec {
    /// File holding the definition.
    var file: String
    /// `display_name`.
    var displayName: String?
    /// Declared inputs; inline jobs declare theirs by value, see `declaresInputsByValue`.
    var inputs: [InputDeclaration]
    var outputs: [OutputDeclaration]
    /// `command` after YAML folding.
    var command: String
    /// Where `command` is written.
    var commandLocation: SourceNode
    /// Absolute `code:` directory.
    var codeDirectory: String?
    /// Canonical JSON of `environment`, or "".
    var environment: String
    /// What `environment` resolves to on a worker, or nil when there is none.
    var environmentSetup: StepEnvironment? = nil
    var isDeterministic: Bool
    /// `resources:` of the component.
    var resources = StepResources()
    /// True for inline command jobs: their inputs are the node's `inputs:` keys.
    var declaresInputsByValue: Bool
    /// For a registered component, the reference it resolved to at its definite version (`azureml:train:2`).
    var registeredReference: String?
}
