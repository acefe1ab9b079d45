/// A named input value with its place in the file.
struct NamedInput {
    var name: String
    var value: InputValue
    var location: SourceNode
}
