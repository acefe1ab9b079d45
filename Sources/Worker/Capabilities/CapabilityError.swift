/// A capability option or specification that cannot be used: a malformed `--gpus` list, a GPU
/// index the machine does not have, a bad `--simulate-gpus` spec, an invalid label.
public struct CapabilityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong; an open set.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// `--gpus` is not a comma-separated list of indices.
        public static let malformedGPUList = Code(rawValue: "malformed-gpu-list")
        /// `--gpus` names a device the machine does not have.
        public static let unknownGPU = Code(rawValue: "unknown-gpu")
        /// `--simulate-gpus` or `CONDUIT_SIMULATED_GPUS` cannot be parsed.
        public static let malformedSimulation = Code(rawValue: "malformed-simulation")
        /// A `--label` is empty or holds a space or a comma.
        public static let invalidLabel = Code(rawValue: "invalid-label")
    }

    public var code: Code
    /// What was wrong and how to write it instead.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
