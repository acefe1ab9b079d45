/// The Python environment a dispatched attempt runs in (see `docs/environments.md`).
///
/// The worker builds a virtual environment once per `digest` under its work directory and reuses it;
/// an interpreter is put first on the step's `PATH` as `python` and `python3`; the worker's own
/// `python3` needs nothing.
public struct DispatchEnvironment: Codable, Hashable, Sendable {
    /// How the worker provides Python.
    public enum Kind: UInt8, Codable, Hashable, Sendable {
        /// The worker's `python3`: nothing is built.
        case workerPython = 0
        /// An existing interpreter at `python`.
        case interpreter = 1
        /// A virtual environment built from `requirements`, with Python `python` (a version such as
        /// `3.11`, run as `python3.11`) or the worker's `python3` when nil.
        case virtualEnvironment = 2
    }

    /// How messages name it: the reference as written (`azureml:sklearn-env:1`) or `an inline environment`.
    public var label: String
    public var kind: Kind
    public var python: String?
    public var requirements: [String]
    /// SHA-256 (hex) of the environment's canonical form: the virtual environment's key on workers.
    public var digest: String

    public init(label: String, kind: Kind, python: String? = nil, requirements: [String] = [], digest: String) {
        self.label = label
        self.kind = kind
        self.python = python
        self.requirements = requirements
        self.digest = digest
    }
}
