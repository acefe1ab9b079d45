/// One `outputs:` entry of a component or pipeline.
struct OutputDeclaration {
    var name: String
    /// `type:`; nil when the declaration leaves it out (pipeline outputs default to `uri_folder`).
    var type: DataType?
    /// `mode:` as written.
    var mode: String?
    /// `path:` as written: where the output is also written, `azureml://datastores/NAME/paths/...`,
    /// possibly with `${{name}}`, `${{output_name}}` and `${{default_datastore}}`.
    var path: String? = nil
    /// `name:` and `version:` of a pipeline job's output: the data asset it is registered as.
    var asset: OutputAssetName? = nil
    /// Where the declaration is written.
    var location: SourceNode
}
