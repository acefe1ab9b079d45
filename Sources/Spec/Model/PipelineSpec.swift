/// A pipeline job, or a pipeline component used as a node, parsed but not yet resolved.
struct PipelineSpec {
    /// File holding the definition.
    var file: String
    var displayName: String?
    var experimentName: String?
    var settings: PipelineSettings
    /// Top-level `compute:` of a job.
    var compute: String?
    /// Input values of a job (`inputs:` of a pipeline job).
    var inputValues: [NamedInput]
    /// Input declarations of a pipeline component.
    var inputDeclarations: [InputDeclaration]
    var outputs: [OutputDeclaration]
    var nodes: [NodeSpec]
    /// Whether this job runs a pipeline component (top-level `component:`): its `inputValues` then
    /// fill `inputDeclarations`, the component's.
    var isComponentJob = false
    /// The document root.
    var location: SourceNode
}
