/// What a look at an interpreter the environments file maps to found, on the machine that loads
/// the pipeline (see `PipelineLoader.Options.inspectInterpreter`).
public enum InterpreterInspection: Sendable, Hashable {
    /// The interpreter is not there, or does not run as Python: why, in words.
    case unavailable(String)
    /// It runs; these of the distributions asked for are not installed in it (empty: all are).
    case missing([String])
}
