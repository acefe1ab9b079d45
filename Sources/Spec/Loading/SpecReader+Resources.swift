import Protocol

extension SpecReader {
    /// Azure ML's `resources` keys that Conduit reads or passes over.
    static let azureResourceKeys: Set<String> = [
        "instance_count", "instance_type", "shm_size", "docker_args", "max_instance_count", "locations", "properties",
    ]
    /// Conduit's requirement fields under `resources`.
    static let conduitResourceKeys: [String] = ["cpu", "memory", "gpu", "gpu_memory"]

    /// `resources:` of a step or a command component: `instance_type`, and Conduit's `cpu`,
    /// `memory`, `gpu` and `gpu_memory`. Other Azure keys are accepted and ignored (`instance_count`
    /// above 1 is refused: a step runs on one worker); unknown keys get a warning, as Azure ML
    /// gives.
    mutating func readResources(_ node: SourceNode) throws(SpecError) -> StepResources {
        var resources = StepResources()
        guard !node.isNull else { return resources }
        let entries = try node.entries()
        warnUnknownKeys(
            entries, known: Self.azureResourceKeys.union(Self.conduitResourceKeys), in: node,
            note: "ignored; Conduit reads \(Self.conduitResourceKeys.joined(separator: ", ")) and instance_type",
            ignored: IgnoredKeys.resources
        )
        if let count = entries["instance_count"], !count.isNull {
            let instances = try count.integer()
            guard instances == 1 else {
                throw count.error(.notSupported, "instance_count: \(instances) is not supported; Conduit runs each step on one worker (use 1 or leave it out)")
            }
        }
        if let type = entries["instance_type"], !type.isNull {
            let text = try type.string(expecting: "an instance type name such as Standard_NC6s_v3")
            guard !text.isEmpty else { throw type.error(.invalidType, "instance_type is empty; expected a name such as Standard_NC6s_v3") }
            resources.instanceType = text
        }
        try Self.readRequirementFields(entries, into: &resources)
        return resources
    }

    /// `cpu`, `memory`, `gpu` and `gpu_memory` of a `resources` mapping (or of a compute target or
    /// instance type in the coordinator's configuration).
    static func readRequirementFields(_ entries: [(key: String, value: SourceNode)], into resources: inout StepResources) throws(SpecError) {
        if let cpu = entries["cpu"], !cpu.isNull {
            let cores: Double
            switch try cpu.literal() {
            case .int(let whole): cores = Double(whole)
            case .float(let fraction): cores = fraction
            case let other: throw cpu.error(.invalidType, "cpu must be a number of cores (e.g. 4 or 0.5), found \(other.quoted)")
            }
            guard cores.isFinite, cores > 0, cores <= 4096 else {
                throw cpu.error(.outOfRange, "cpu must be more than 0 and at most 4096 cores, found \(cores)")
            }
            resources.cpuMillicores = max(1, Int((cores * 1000).rounded()))
        }
        if let memory = entries["memory"], !memory.isNull {
            resources.memoryBytes = try Self.size(memory, field: "memory", example: "16GiB")
        }
        if let gpu = entries["gpu"], !gpu.isNull {
            let count: Int
            switch try gpu.literal() {
            case .int(let whole): count = whole
            case let other: throw gpu.error(.invalidType, "gpu must be a whole number of GPUs (e.g. 1), found \(other.quoted)")
            }
            guard (0...64).contains(count) else {
                throw gpu.error(.outOfRange, "gpu must be between 0 and 64, found \(count)")
            }
            resources.gpus = count
        }
        if let gpuMemory = entries["gpu_memory"], !gpuMemory.isNull {
            resources.gpuMemoryBytes = try Self.size(gpuMemory, field: "gpu_memory", example: "16GiB")
            if resources.gpus == nil { resources.gpus = 1 }
        }
    }

    /// A size such as `16GiB` (an integer alone is bytes).
    static func size(_ node: SourceNode, field: String, example: String) throws(SpecError) -> Int64 {
        let text: String
        switch try node.literal() {
        case .int(let whole): text = String(whole)
        case .string(let written): text = written
        case let other: throw node.error(.invalidType, "\(field) must be a size such as \(example), found \(other.quoted)")
        }
        guard let bytes = ByteCount.parse(text), bytes > 0 else {
            throw node.error(.invalidType, "\(field): '\(text)' is not a size; expected a positive number with a unit, such as \(example) (units: \(ByteCount.unitsDescription))")
        }
        return bytes
    }
}
