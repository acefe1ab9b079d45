import Protocol

/// Which detected GPUs a worker offers (`--gpus 0,2`): a set of device indices.
public struct GPUSelection: Hashable, Sendable {
    /// The chosen indices, ascending, without repeats.
    public var indices: [Int]

    public init(indices: [Int]) {
        self.indices = Array(Set(indices)).sorted()
    }

    /// Parses `--gpus`: device indices separated by commas, e.g. `0`, `0,2`, `1, 3`.
    public static func parse(_ text: String) throws(WorkerError) -> GPUSelection {
        func failure(_ reason: String) -> WorkerError {
            WorkerError(
                .malformedGPUList,
                "--gpus '\(text)': \(reason); write device indices separated by commas, e.g. --gpus 0,2 (see nvidia-smi -L)")
        }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw failure("the list is empty") }
        var indices: [Int] = []
        for rawEntry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = rawEntry.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { throw failure("an entry between commas is empty") }
            guard entry.allSatisfy({ $0.isASCII && $0.isNumber }), let index = Int(entry) else {
                throw failure("'\(entry)' is not a device index")
            }
            guard !indices.contains(index) else { throw failure("device \(index) is named twice") }
            indices.append(index)
        }
        return GPUSelection(indices: indices)
    }

    /// The detected devices with these indices, in index order; an index the machine does not
    /// have is refused with the list of those it does.
    public func apply(to detected: [GPUDevice]) throws(WorkerError) -> [GPUDevice] {
        let known = Set(detected.map(\.index))
        let missing = indices.filter { !known.contains($0) }
        guard missing.isEmpty else {
            let names = missing.map(String.init).joined(separator: ", ")
            let available: String
            if detected.isEmpty {
                available = "no GPUs were detected on this machine"
            } else {
                available = "the detected GPUs are "
                    + detected.sorted { $0.index < $1.index }.map { "\($0.index) (\($0.name))" }.joined(separator: ", ")
            }
            let noun = missing.count == 1 ? "device" : "devices"
            throw WorkerError(.unknownGPU, "--gpus names \(noun) \(names), which this machine does not have: \(available)")
        }
        return detected.filter { indices.contains($0.index) }.sorted { $0.index < $1.index }
    }
}
