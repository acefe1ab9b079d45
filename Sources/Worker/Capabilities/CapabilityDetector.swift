import Foundation
import Protocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds what a worker can offer: cores and memory within its cgroup limits and CPU affinity,
/// and its GPUs (NVML, else `nvidia-smi`, else none), or the simulated GPUs it was given.
public enum CapabilityDetector {
    /// What to look for.
    public struct Options: Sendable {
        /// `--gpus`: offer only these detected devices; nil offers all.
        public var gpuSelection: GPUSelection?
        /// `--simulate-gpus SPEC`: declare these devices instead of detecting any (see
        /// `SimulatedGPUs`); nil falls back to `CONDUIT_SIMULATED_GPUS` in `environment`.
        public var simulatedGPUs: String?
        /// The process environment: `CONDUIT_SIMULATED_GPUS`, and `PATH` to find `nvidia-smi`.
        public var environment: [String: String]
        /// Look for real GPUs at all (false: none unless simulated); default true.
        public var detectsGPUs: Bool

        public init(
            gpuSelection: GPUSelection? = nil, simulatedGPUs: String? = nil,
            environment: [String: String] = ProcessInfo.processInfo.environment, detectsGPUs: Bool = true
        ) {
            self.gpuSelection = gpuSelection
            self.simulatedGPUs = simulatedGPUs
            self.environment = environment
            self.detectsGPUs = detectsGPUs
        }
    }

    /// Detects everything; throws when the simulated spec or `--gpus` cannot be honoured.
    ///
    /// The blocking work (loading NVML, running `nvidia-smi` for up to 10 s) happens on a thread of
    /// its own, never on the cooperative pool. No GPU is a normal result, not an error.
    public static func detect(_ options: Options = Options()) async throws(WorkerError) -> MachineResources {
        let result: Result<MachineResources, WorkerError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(WorkerError) {
                    continuation.resume(returning: .success(try detectBlocking(options)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "conduit-capabilities"
            thread.start()
        }
        return try result.get()
    }

    /// `detect`, on the calling thread (which it may block for up to 20 s while `nvidia-smi` runs).
    public static func detectBlocking(_ options: Options) throws(WorkerError) -> MachineResources {
        var resources = hostResources()
        let (devices, source) = try gpus(options)
        resources.gpus = try options.gpuSelection?.apply(to: devices) ?? devices
        resources.gpuSource = resources.gpus.isEmpty ? .none : source
        return resources
    }

    /// Cores, memory and host name, without GPUs: cheap (a few small files).
    public static func hostResources(limits: CgroupLimits = .current()) -> MachineResources {
        let machineCores = max(1, ProcessInfo.processInfo.processorCount)
        let allowedCores = affinityCount() ?? ProcessInfo.processInfo.activeProcessorCount
        let afterAffinity = max(1, min(machineCores, allowedCores))
        let cores = limits.cores(available: afterAffinity)
        let coreLimit: MachineResources.CoreLimit =
            cores < afterAffinity ? .cgroup : afterAffinity < machineCores ? .affinity : .none
        let physical = Int64(clamping: ProcessInfo.processInfo.physicalMemory)
        let memory = limits.memory(physical: physical)
        return MachineResources(
            cores: cores, coreLimit: coreLimit, memoryBytes: memory, memoryLimitedByCgroup: memory < physical,
            hostname: ProcessInfo.processInfo.hostName
        )
    }

    /// The devices to offer before `--gpus`, and where they came from.
    static func gpus(_ options: Options) throws(WorkerError) -> ([GPUDevice], MachineResources.GPUSource) {
        if let spec = options.simulatedGPUs {
            return (try SimulatedGPUs.parse(spec, source: "--simulate-gpus"), .simulated)
        }
        if let spec = options.environment[SimulatedGPUs.environmentVariable], !spec.isEmpty {
            return (try SimulatedGPUs.parse(spec, source: SimulatedGPUs.environmentVariable), .simulated)
        }
        guard options.detectsGPUs else { return ([], .none) }
        if let devices = NVML.devices() { return (devices, .nvml) }
        if let devices = NvidiaSMI.devices(environment: options.environment) { return (devices, .nvidiaSMI) }
        return ([], .none)
    }

    typealias GetAffinity = @convention(c) (Int32, Int, UnsafeMutableRawPointer) -> Int32

    /// `sched_getaffinity`, which Swift's `Glibc` module does not import; looked up once.
    static let getAffinity: GetAffinity? = {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, "sched_getaffinity") else { return nil }
        return unsafeBitCast(pointer, to: GetAffinity.self)
    }()

    /// The CPUs in this process's affinity mask; nil where it cannot be read.
    static func affinityCount() -> Int? {
        guard let getAffinity else { return nil }
        // Room for 8192 CPUs; the kernel fails (EINVAL) when its mask is larger.
        var mask = [UInt8](repeating: 0, count: 1024)
        let status = mask.withUnsafeMutableBytes { getAffinity(0, $0.count, $0.baseAddress!) }
        guard status == 0 else { return nil }
        let count = mask.reduce(0) { $0 + $1.nonzeroBitCount }
        return count > 0 ? count : nil
    }
}
