import Protocol

/// What one attempt needs of the worker that runs it.
public struct Requirement: Sendable, Hashable {
    /// The worker label the step's `compute` maps to, or nil for "any worker".
    public var label: String?
    /// Cores in thousandths; a step that names none takes one core.
    public var cpuMillicores: Int
    public var memoryBytes: Int64
    public var gpus: Int
    /// The least memory each of its GPUs must have.
    public var gpuMemoryBytes: Int64

    public static let defaultCPU = 1000

    public init(label: String? = nil, cpuMillicores: Int = Requirement.defaultCPU, memoryBytes: Int64 = 0, gpus: Int = 0, gpuMemoryBytes: Int64 = 0) {
        self.label = label
        self.cpuMillicores = max(1, cpuMillicores)  // every attempt takes some CPU
        self.memoryBytes = max(0, memoryBytes)
        self.gpus = max(0, gpus)
        self.gpuMemoryBytes = max(0, gpuMemoryBytes)
    }

    /// One core, no memory or GPU asked: the only kind a worker may hold beyond its slots.
    var isUnit: Bool { cpuMillicores == Self.defaultCPU && memoryBytes == 0 && gpus == 0 }

    /// In words, for waiting reasons: `gpu≥1 with label gpu-cluster`, `cpu≥4, memory≥16 GiB`,
    /// `a worker with label highmem`.
    public var summary: String {
        var parts: [String] = []
        if cpuMillicores != Self.defaultCPU { parts.append("cpu≥\(Self.cores(cpuMillicores))") }
        if memoryBytes > 0 { parts.append("memory≥\(ByteCount.format(memoryBytes))") }
        if gpus > 0 { parts.append("gpu≥\(gpus)") }
        if gpuMemoryBytes > 0 { parts.append("gpu_memory≥\(ByteCount.format(gpuMemoryBytes))") }
        guard let label else { return parts.isEmpty ? "any worker" : parts.joined(separator: ", ") }
        return parts.isEmpty ? "a worker with label \(label)" : parts.joined(separator: ", ") + " with label \(label)"
    }

    /// `4`, `0.5`, `1.25`.
    static func cores(_ millicores: Int) -> String {
        millicores % 1000 == 0 ? "\(millicores / 1000)" : "\(Double(millicores) / 1000)"
    }
}

/// What a worker offers the scheduler.
public struct WorkerCapacity: Sendable, Hashable {
    /// One GPU: its index on the worker and its memory.
    public struct GPU: Sendable, Hashable {
        public var index: Int
        public var memoryBytes: Int64
        public init(index: Int, memoryBytes: Int64) {
            self.index = index
            self.memoryBytes = memoryBytes
        }
    }

    public var labels: Set<String>
    /// Attempts it runs at once.
    public var slots: Int
    /// Cores in thousandths. A worker offered more slots than cores counts each slot as a core:
    /// its owner declared it may run that many one-core steps at once.
    public var cpuMillicores: Int
    public var memoryBytes: Int64
    public var gpus: [GPU]

    public init(labels: Set<String> = [], slots: Int, cores: Int? = nil, memoryBytes: Int64 = Int64.max / 4, gpus: [GPU] = []) {
        self.labels = labels
        self.slots = max(1, slots)
        self.cpuMillicores = max(self.slots, cores ?? self.slots) * 1000
        self.memoryBytes = memoryBytes
        self.gpus = gpus.sorted { $0.index < $1.index }
    }

    /// From what the worker reported at hello.
    public init(_ capabilities: WorkerCapabilities) {
        self.init(
            labels: Set(capabilities.labels), slots: capabilities.slots, cores: capabilities.cores,
            memoryBytes: capabilities.memoryBytes > 0 ? capabilities.memoryBytes : Int64.max / 4,
            gpus: capabilities.gpus.map { GPU(index: $0.index, memoryBytes: $0.memoryBytes) }
        )
    }

    /// Whether this worker may run a step that asks for `label`: a worker with no labels takes
    /// any step, one with labels takes steps naming one of them and steps naming none.
    public func accepts(_ label: String?) -> Bool {
        guard let label, !labels.isEmpty else { return true }
        return labels.contains(label)
    }

    /// Whether the worker could run `need` when it is idle.
    public func couldEverRun(_ need: Requirement) -> Bool {
        accepts(need.label) && cpuMillicores >= need.cpuMillicores && memoryBytes >= need.memoryBytes
            && gpus.filter { $0.memoryBytes >= need.gpuMemoryBytes }.count >= need.gpus
    }
}
