/// A data value flowing into an input: where it comes from, and its type and mode when known.
struct DataReference: Hashable {
    /// The type the source is known to have (`nil` when nothing says).
    var type: DataType?
    /// `mode:` as written, when given.
    var mode: String?
    var source: DataSource
}
