import Foundation
import Protocol

/// What a worker found it can offer: cores, memory and GPUs, and what limited each.
public struct MachineResources: Hashable, Sendable {
    /// What held the core count below the machine's.
    public enum CoreLimit: String, Hashable, Sendable {
        /// Every core of the machine.
        case none
        /// The control group's CPU quota (rounded down, at least 1).
        case cgroup
        /// The process's CPU affinity mask (`taskset`, a batch system's binding).
        case affinity
    }

    /// Where the GPU list came from.
    public enum GPUSource: String, Hashable, Sendable {
        /// No GPU found: no NVIDIA driver, or none declared.
        case none
        /// NVIDIA's management library, loaded at run time.
        case nvml
        /// `nvidia-smi`, when the library could not be used.
        case nvidiaSMI = "nvidia-smi"
        /// Declared with `--simulate-gpus` or `CONDUIT_SIMULATED_GPUS`.
        case simulated
    }

    /// Cores the worker may use.
    public var cores: Int
    public var coreLimit: CoreLimit
    /// Memory the worker may use.
    public var memoryBytes: Int64
    /// Whether a control group's memory limit is below the machine's memory.
    public var memoryLimitedByCgroup: Bool
    public var hostname: String
    /// The GPUs offered (after `--gpus`), in index order.
    public var gpus: [GPUDevice]
    public var gpuSource: GPUSource

    public init(
        cores: Int, coreLimit: CoreLimit = .none, memoryBytes: Int64, memoryLimitedByCgroup: Bool = false,
        hostname: String, gpus: [GPUDevice] = [], gpuSource: GPUSource = .none
    ) {
        self.cores = cores
        self.coreLimit = coreLimit
        self.memoryBytes = memoryBytes
        self.memoryLimitedByCgroup = memoryLimitedByCgroup
        self.hostname = hostname
        self.gpus = gpus
        self.gpuSource = gpuSource
    }

    /// What the worker tells the coordinator at hello.
    public func capabilities(slots: Int, labels: [String], diskFreeBytes: Int64) -> WorkerCapabilities {
        WorkerCapabilities(
            cores: cores, memoryBytes: memoryBytes, slots: slots, labels: labels, hostname: hostname,
            diskFreeBytes: diskFreeBytes, gpus: gpus
        )
    }

    /// One line for the worker's start, e.g. `worker w1: 8 cores (cgroup limit), 15.6 GiB memory,
    /// 120 GiB free disk, GPUs: 0 NVIDIA H100 80GB HBM3 (79.6 GiB, cc 9.0)`; simulated devices say
    /// so, and a machine without GPUs says `GPUs: none`.
    public func summary(workerName: String, diskFreeBytes: Int64?) -> String {
        var parts: [String] = []
        let coreWord = cores == 1 ? "core" : "cores"
        switch coreLimit {
        case .none: parts.append("\(cores) \(coreWord)")
        case .cgroup: parts.append("\(cores) \(coreWord) (cgroup limit)")
        case .affinity: parts.append("\(cores) \(coreWord) (CPU affinity)")
        }
        parts.append("\(Self.formatBytes(memoryBytes)) memory" + (memoryLimitedByCgroup ? " (cgroup limit)" : ""))
        if let diskFreeBytes {
            parts.append("\(Self.formatBytes(diskFreeBytes)) free disk")
        } else {
            parts.append("free disk unknown")
        }
        if gpus.isEmpty {
            parts.append("GPUs: none")
        } else {
            parts.append("GPUs: " + gpus.map(Self.describe).joined(separator: "; "))
        }
        return "worker \(workerName): " + parts.joined(separator: ", ")
    }

    /// `0 NVIDIA H100 80GB HBM3 (79.6 GiB, cc 9.0)`, or `0 A100 (80 GiB, simulated)`.
    static func describe(_ device: GPUDevice) -> String {
        var details = [formatBytes(device.memoryBytes)]
        if !device.computeCapability.isEmpty { details.append("cc \(device.computeCapability)") }
        if device.simulated { details.append("simulated") }
        return "\(device.index) \(device.name) (\(details.joined(separator: ", ")))"
    }

    /// Bytes in binary units with at most one decimal: `15.6 GiB`, `120 GiB`, `512 MiB`.
    static func formatBytes(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(max(0, bytes))
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let rounded = (value * 10).rounded() / 10
        if rounded >= 100 || rounded == rounded.rounded(.down) {
            return "\(Int(rounded.rounded())) \(units[unit])"
        }
        return String(format: "%.1f", rounded) + " " + units[unit]
    }
}
