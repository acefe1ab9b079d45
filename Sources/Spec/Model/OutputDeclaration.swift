/// One `outputs:` entry of a component or pipeline.
struct OutputDeclaration {
    var name: String
    /// `type:`; nil when the declaration leaves it out (pipeline outputs default to `uri_folder`).
    var type: DataType?
    /// `mode:` as written.
    var mode: String?
    /// Where the declaration is written.
    var location: SourceNode
}
