// The ways a capability option or specification can be refused, as `WorkerError` codes: a
// malformed `--gpus` list, a GPU index the machine does not have, a bad `--simulate-gpus` spec,
// an invalid label. The message says what was wrong and how to write it instead.
extension WorkerError.Code {
    /// `--gpus` is not a comma-separated list of indices.
    public static let malformedGPUList = Self(rawValue: "malformed-gpu-list")
    /// `--gpus` names a device the machine does not have.
    public static let unknownGPU = Self(rawValue: "unknown-gpu")
    /// `--simulate-gpus` or `CONDUIT_SIMULATED_GPUS` cannot be parsed.
    public static let malformedSimulation = Self(rawValue: "malformed-simulation")
    /// A `--label` is empty or holds a space or a comma.
    public static let invalidLabel = Self(rawValue: "invalid-label")
}
