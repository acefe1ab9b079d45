import Protocol
import Spec

/// Turns a step's `compute:` and `resources:` into what the scheduler needs (`Requirement`).
///
/// Pure. The mapping comes from the coordinator's configuration file (`PlacementPolicy.load`):
/// - `compute:` names map to a worker label and optional requirements; a name not configured
///   maps to itself as the label (`azureml:gpu-cluster` → label `gpu-cluster`), except `local`
///   and `serverless`, which mean any worker;
/// - `resources.instance_type` names map to requirements; besides the configured ones, common
///   Azure GPU sizes are known with their GPU count, and common CPU sizes ask for nothing (set
///   their cores and memory in the configuration to match your machines). Any other name is
///   refused, with the list of valid ones.
/// - `cpu`, `memory`, `gpu` and `gpu_memory` under the step's `resources` win over both.
public struct PlacementPolicy: Sendable, Hashable {
    /// Requirements without a label: `resources` fields (its `instanceType` is not used).
    public typealias Demand = StepResources

    /// What a `compute:` name maps to.
    public struct ComputeTarget: Sendable, Hashable {
        /// The worker label, or nil for any worker.
        public var label: String?
        public var demand: Demand
        public init(label: String?, demand: Demand = Demand()) {
            self.label = label
            self.demand = demand
        }
    }

    /// Configured `compute:` names (without `azureml:`).
    public var computeTargets: [String: ComputeTarget]
    /// Configured instance types, by name as written.
    public var instanceTypes: [String: Demand]

    public init(computeTargets: [String: ComputeTarget] = [:], instanceTypes: [String: Demand] = [:]) {
        self.computeTargets = computeTargets
        self.instanceTypes = instanceTypes
    }

    /// Why a step's placement fields were refused.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The requirement of a step with this `compute:` and `resources:`.
    public func requirement(compute: String?, resources: StepResources?) throws(Refusal) -> Requirement {
        var label: String?
        var demand = Demand()
        if let compute, let name = PlacementConfigFile.computeName(compute) {
            if let target = computeTargets[name] {
                label = target.label
                demand = target.demand
            } else if !["local", "serverless"].contains(name) {
                label = name
            }
        }
        if let type = resources?.instanceType {
            // The step's own instance type wins over the compute target's defaults.
            guard let typeDemand = instanceType(named: type) else {
                throw Refusal(description: "resources.instance_type '\(type)' is not known; valid: \(validInstanceTypes.joined(separator: ", ")) (add it under instance_types: in the coordinator's --config file)")
            }
            demand = typeDemand.over(demand)
        }
        if let resources {
            demand = resources.over(demand)
        }
        return Requirement(
            label: label, cpuMillicores: demand.cpuMillicores ?? Requirement.defaultCPU, memoryBytes: demand.memoryBytes ?? 0,
            gpus: demand.gpus ?? (demand.gpuMemoryBytes == nil ? 0 : 1), gpuMemoryBytes: demand.gpuMemoryBytes ?? 0
        )
    }

    /// A configured or built-in instance type; names compare without regard to case, as Azure's do.
    func instanceType(named name: String) -> Demand? {
        let key = name.lowercased()
        if let configured = instanceTypes.first(where: { $0.key.lowercased() == key }) { return configured.value }
        if let gpus = Self.builtInGPUSizes[key] { return Demand(gpus: gpus) }
        if Self.builtInCPUSizes.contains(key) { return Demand() }
        return nil
    }

    /// Every instance type name accepted, sorted.
    public var validInstanceTypes: [String] {
        let builtIn = (Array(Self.builtInGPUSizes.keys) + Array(Self.builtInCPUSizes)).map(Self.displayName)
        return Array(Set(instanceTypes.keys).union(builtIn)).sorted { $0.lowercased() < $1.lowercased() }
    }

    /// `standard_nc6s_v3` → `Standard_NC6s_v3`.
    private static func displayName(_ key: String) -> String {
        let parts = key.split(separator: "_").map(String.init)
        guard parts.count >= 2 else { return key }
        var size = parts[1].uppercased()
        // Azure writes the feature letters after the digits in lower case: NC6s, D4as, NC24ads.
        if let firstDigit = size.firstIndex(where: \.isNumber), let letters = size[firstDigit...].firstIndex(where: \.isLetter) {
            size = String(size[..<letters]) + size[letters...].lowercased()
        }
        return (["Standard", size] + parts.dropFirst(2).map { $0 == $0.lowercased() && $0.first == "v" ? $0 : $0.uppercased() }).joined(separator: "_")
    }

    /// Common Azure GPU sizes and their GPU count (Azure's published sizes).
    static let builtInGPUSizes: [String: Int] = [
        "standard_nc6": 1, "standard_nc12": 2, "standard_nc24": 4,
        "standard_nc6s_v2": 1, "standard_nc12s_v2": 2, "standard_nc24s_v2": 4,
        "standard_nc6s_v3": 1, "standard_nc12s_v3": 2, "standard_nc24s_v3": 4, "standard_nc24rs_v3": 4,
        "standard_nc4as_t4_v3": 1, "standard_nc8as_t4_v3": 1, "standard_nc16as_t4_v3": 1, "standard_nc64as_t4_v3": 4,
        "standard_nc24ads_a100_v4": 1, "standard_nc48ads_a100_v4": 2, "standard_nc96ads_a100_v4": 4,
        "standard_nc40ads_h100_v5": 1, "standard_nc80adis_h100_v5": 2,
        "standard_nd40rs_v2": 8, "standard_nd96asr_v4": 8, "standard_nd96amsr_a100_v4": 8, "standard_nd96isr_h100_v5": 8,
        "standard_nv6": 1, "standard_nv12": 2, "standard_nv12s_v3": 1, "standard_nv24s_v3": 2,
    ]

    /// Common Azure CPU sizes (no GPU).
    static let builtInCPUSizes: Set<String> = [
        "standard_ds1_v2", "standard_ds2_v2", "standard_ds3_v2", "standard_ds4_v2", "standard_ds5_v2",
        "standard_ds11_v2", "standard_ds12_v2", "standard_ds13_v2", "standard_ds14_v2", "standard_ds15_v2",
        "standard_d2_v2", "standard_d3_v2", "standard_d4_v2", "standard_d11_v2", "standard_d12_v2", "standard_d13_v2",
        "standard_d2s_v3", "standard_d4s_v3", "standard_d8s_v3", "standard_d16s_v3", "standard_d32s_v3", "standard_d64s_v3",
        "standard_d2ds_v4", "standard_d4ds_v4", "standard_d8ds_v4", "standard_d16ds_v4",
        "standard_e2s_v3", "standard_e4s_v3", "standard_e8s_v3", "standard_e16s_v3", "standard_e32s_v3", "standard_e64s_v3",
        "standard_f2s_v2", "standard_f4s_v2", "standard_f8s_v2", "standard_f16s_v2", "standard_f32s_v2", "standard_f64s_v2", "standard_f72s_v2",
    ]
}

