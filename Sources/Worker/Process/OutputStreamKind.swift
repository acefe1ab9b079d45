/// Which pipe a chunk of a child's output came from.
public enum OutputStreamKind: String, Sendable, Codable, Hashable {
    /// The child's standard output.
    case stdout
    /// The child's standard error.
    case stderr
}
