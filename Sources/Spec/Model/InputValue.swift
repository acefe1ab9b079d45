/// An input value as written in a pipeline job or node, before bindings are followed.
enum InputValue {
    /// A literal, or `{value: literal}`.
    case literal(Literal)
    /// A whole-value binding such as `${{parent.inputs.x}}`.
    case binding(BindingExpression)
    /// A data-input object `{type, path, mode}`.
    case data(type: DataType?, mode: String?, path: DataPath?)
    /// A parameter declared with `{type: integer, ...}` and no value.
    case declaredParameter(ParameterType)

    /// The `path:` of a data-input object.
    enum DataPath {
        case binding(BindingExpression)
        case source(DataSource)
    }
}
