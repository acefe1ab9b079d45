/// What a step asks of the worker that runs it: `resources:` of the step or its component.
///
/// `instance_type` is Azure ML's own field; `cpu`, `memory`, `gpu` and `gpu_memory` are Conduit's
/// (Azure ML accepts unknown keys under `resources`, so a pipeline using them stays valid there).
/// The coordinator turns `compute:` and `instance_type` into requirements through its
/// configuration; fields set here win over those.
public struct StepResources: Sendable, Hashable, Codable {
    /// `instance_type` as written, e.g. `Standard_NC6s_v3`.
    public var instanceType: String?
    /// `cpu`: cores, in thousandths (`cpu: 0.5` is 500).
    public var cpuMillicores: Int?
    /// `memory`, in bytes.
    public var memoryBytes: Int64?
    /// `gpu`: how many GPUs.
    public var gpus: Int?
    /// `gpu_memory`: the least memory each of its GPUs must have, in bytes.
    public var gpuMemoryBytes: Int64?

    public init(instanceType: String? = nil, cpuMillicores: Int? = nil, memoryBytes: Int64? = nil, gpus: Int? = nil, gpuMemoryBytes: Int64? = nil) {
        self.instanceType = instanceType
        self.cpuMillicores = cpuMillicores
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.gpuMemoryBytes = gpuMemoryBytes
    }

    /// True when nothing is asked.
    public var isEmpty: Bool { self == StepResources() }

    /// These fields, with any unset one taken from `base` (a step's own `resources` over its
    /// component's).
    public func over(_ base: StepResources) -> StepResources {
        StepResources(
            instanceType: instanceType ?? base.instanceType, cpuMillicores: cpuMillicores ?? base.cpuMillicores,
            memoryBytes: memoryBytes ?? base.memoryBytes, gpus: gpus ?? base.gpus, gpuMemoryBytes: gpuMemoryBytes ?? base.gpuMemoryBytes
        )
    }
}
