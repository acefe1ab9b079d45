/// One `outputs:` entry of a node: a binding to a pipeline output and/or a type and mode.
struct NodeOutput {
    var name: String
    /// The pipeline output this output fills (`${{parent.outputs.NAME}}`).
    var pipelineOutput: String?
    var type: DataType?
    var mode: String?
    /// A datastore `path:` (see `DatastorePath`), when the node gives one.
    var path: String? = nil
    /// `name:` and `version:`: the data asset the output is registered as.
    var asset: OutputAssetName? = nil
    var location: SourceNode
}
