/// The value an input has once bindings are followed.
enum ResolvedValue {
    /// A literal parameter.
    case parameter(Literal)
    /// Data from a file, URI or step output.
    case data(DataReference)
    /// No value (null, or bound to something without a value).
    case unset
}
