import Foundation
import Protocol

/// Declared GPUs for testing GPU scheduling on machines without GPUs (`--simulate-gpus SPEC`,
/// or `CONDUIT_SIMULATED_GPUS=SPEC` for workers that tests spawn).
///
/// The spec, with no spaces needed:
/// - `N`: N devices of the default model (`Simulated GPU`, 16 GiB), e.g. `2`; `0` or `none`
///   declares no GPUs at all (real detection is skipped too).
/// - `[Nx]MODEL[:MEMORY]`: N devices (default 1) of MODEL with MEMORY each (default 16 GiB),
///   e.g. `2xA100:80GiB`, `T4`.
/// - a comma-separated list of those, e.g. `A100:80GiB,T4:16GiB` or `2xA100:80GiB,1xT4`.
///
/// MODEL holds letters, digits, spaces, `-`, `_` and `.`; MEMORY is a size with a unit (see `ByteCount`), e.g.
/// `80GiB`, `40.5GiB`, `512MiB`. At most 64 devices in all. Devices
/// are numbered from 0 in the order written, with UUIDs `GPU-SIMULATED-0`, `GPU-SIMULATED-1`, ...,
/// all memory free, an empty compute capability, and `simulated: true`.
public enum SimulatedGPUs {
    /// The environment variable read when `--simulate-gpus` is not given.
    public static let environmentVariable = "CONDUIT_SIMULATED_GPUS"
    /// The model of a device whose spec names none (`2`).
    public static let defaultModel = "Simulated GPU"
    /// The memory of a device whose spec names none.
    public static let defaultMemoryBytes: Int64 = 16 << 30
    /// The most devices one spec may declare.
    public static let maximumCount = 64

    /// The devices `spec` declares; `source` names where it came from in error messages
    /// (`--simulate-gpus` or `CONDUIT_SIMULATED_GPUS`).
    public static func parse(_ spec: String, source: String = "--simulate-gpus") throws(WorkerError) -> [GPUDevice] {
        let text = spec.trimmingCharacters(in: .whitespaces)
        func failure(_ message: String) -> WorkerError {
            WorkerError(.malformedSimulation, "\(source) '\(spec)': \(message); \(grammar)")
        }
        guard !text.isEmpty else { throw failure("the spec is empty") }
        if text == "0" || text.lowercased() == "none" { return [] }
        if text.allSatisfy(\.isNumber) {
            guard let count = Int(text), (1...maximumCount).contains(count) else {
                throw failure("the count must be from 1 to \(maximumCount)")
            }
            return devices([(count, defaultModel, defaultMemoryBytes)])
        }
        var groups: [(count: Int, model: String, memory: Int64)] = []
        for rawEntry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = rawEntry.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { throw failure("an entry between commas is empty") }
            var rest = Substring(entry)
            var count = 1
            // A leading COUNTx: digits, then an 'x'.
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, rest.dropFirst(digits.count).first == "x" {
                guard let parsed = Int(digits), (1...maximumCount).contains(parsed) else {
                    throw failure("the count in '\(entry)' must be from 1 to \(maximumCount)")
                }
                count = parsed
                rest = rest.dropFirst(digits.count + 1)
            }
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw failure("'\(entry)' has more than one ':'") }
            let model = parts[0].trimmingCharacters(in: .whitespaces)
            guard !model.isEmpty else { throw failure("'\(entry)' names no model") }
            guard model.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || " -_.".contains($0)) }) else {
                throw failure("the model '\(model)' may hold only letters, digits, spaces, '-', '_' and '.'")
            }
            var memory = defaultMemoryBytes
            if parts.count == 2 {
                let written = parts[1].trimmingCharacters(in: .whitespaces)
                guard let bytes = parseMemory(written) else {
                    throw failure("the memory '\(written)' in '\(entry)' must be a positive size with a unit, e.g. 80GiB")
                }
                memory = bytes
            }
            groups.append((count, model, memory))
        }
        let total = groups.reduce(0) { $0 + $1.count }
        guard total <= maximumCount else { throw failure("\(total) devices in all; at most \(maximumCount)") }
        return devices(groups)
    }

    /// How to write a spec, appended to every error.
    static let grammar = "write a count (2), [COUNTx]MODEL[:MEMORY] (2xA100:80GiB) or a comma-separated list (A100:80GiB,T4:16GiB)"

    /// `80GiB`, `512MiB`, `1.5TiB` (units in any case, see `ByteCount`) in bytes; nil when
    /// malformed, not positive, or without a unit.
    static func parseMemory(_ text: String) -> Int64? {
        guard text.contains(where: \.isLetter), let bytes = ByteCount.parse(text), bytes > 0 else { return nil }
        return bytes
    }

    private static func devices(_ groups: [(count: Int, model: String, memory: Int64)]) -> [GPUDevice] {
        var devices: [GPUDevice] = []
        for group in groups {
            for _ in 0..<group.count {
                let index = devices.count
                devices.append(GPUDevice(
                    index: index, uuid: "GPU-SIMULATED-\(index)", name: group.model,
                    memoryBytes: group.memory, freeMemoryBytes: group.memory, simulated: true
                ))
            }
        }
        return devices
    }
}
