import Foundation
import Protocol

/// The placement part of the coordinator's configuration file (`conduit coordinator --config`):
///
/// ```yaml
/// compute:                    # compute: names (without azureml:) → worker label and requirements
///   gpu-cluster: {label: gpu, gpu: 1}
///   cpu-highmem: {label: highmem, memory: 32GiB}
/// instance_types:             # resources.instance_type names → requirements
///   Standard_NC6s_v3: {cpu: 6, memory: 112GiB, gpu: 1, gpu_memory: 16GiB}
/// datastores:                 # azureml://datastores/NAME/paths/... → directories on this machine
///   shared: /mnt/shared
/// default_datastore: shared   # what ${{default_datastore}} names (default: workspaceblobstore)
/// mlflow:                     # mirror each attempt's tracking to this MLflow server
///   tracking_uri: http://127.0.0.1:5000
/// ```
///
/// Read with the same safe YAML rules as pipelines; every problem names the file, line and field.
public struct PlacementConfigFile: Sendable, Hashable {
    /// Compute names (without `azureml:`) → label (nil: any worker) and requirements.
    public var computeEntries: [String: ComputeEntry]
    public var instanceTypes: [String: StepResources]
    /// Datastore names → absolute directories (relative ones are read against the file's directory).
    public var datastores: [String: String] = [:]
    /// `default_datastore:`, when given.
    public var defaultDatastore: String?
    /// `mlflow: {tracking_uri: ...}`: the MLflow server attempts' tracking is mirrored to, when given
    /// (an `http://` or `https://` URL).
    public var mlflowTrackingURI: String?

    public struct ComputeEntry: Sendable, Hashable {
        public var label: String?
        public var resources: StepResources
        public init(label: String?, resources: StepResources) {
            self.label = label
            self.resources = resources
        }
    }

    static let requirementKeys = ["cpu", "memory", "gpu", "gpu_memory"]

    /// The name in a `compute:` value: `azureml:NAME`, `NAME`, or an ARM id ending in
    /// `/computes/NAME` (the configuration's keys are read the same way); nil when empty.
    public static func computeName(_ compute: String) -> String? {
        var name = compute.hasPrefix("azureml:") ? String(compute.dropFirst("azureml:".count)) : compute
        if let range = name.range(of: "/computes/", options: .backwards) { name = String(name[range.upperBound...]) }
        return name.isEmpty ? nil : name
    }

    /// Reads the file at `path` (absolute).
    public static func load(file path: String) throws(SpecError) -> PlacementConfigFile {
        let root: SourceNode?
        do {
            root = try YAMLDocument.load(file: path)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
        return try read(root, file: path)
    }

    /// Reads configuration `text` as if it were the content of `file`.
    public static func parse(_ text: String, file: String) throws(SpecError) -> PlacementConfigFile {
        let root: SourceNode?
        do {
            root = try YAMLDocument.parse(text, file: file)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: file, message: "\(error)")
        }
        return try read(root, file: file)
    }

    private static func read(_ root: SourceNode?, file: String) throws(SpecError) -> PlacementConfigFile {
        var config = PlacementConfigFile(computeEntries: [:], instanceTypes: [:])
        guard let root, !root.isNull else { return config }
        let entries = try root.entries()
        for entry in entries where !["compute", "instance_types", "datastores", "default_datastore", "mlflow"].contains(entry.key) {
            throw entry.value.error(
                .unknownField, "unknown key '\(entry.key)'; the configuration file has compute:, instance_types:, datastores:, default_datastore: and mlflow:"
            )
        }
        if let mlflow = entries["mlflow"], !mlflow.isNull {
            config.mlflowTrackingURI = try readMLflow(mlflow)
        }
        for entry in try entries["datastores"]?.entriesOrEmpty() ?? [] {
            let directory = try entry.value.string(expecting: "a directory")
            guard !entry.key.contains("/"), !directory.isEmpty else {
                throw entry.value.error(.invalidType, "a datastore maps a name without '/' to a directory, found \(entry.key): '\(directory)'")
            }
            config.datastores[entry.key] = PathResolver.absolute(directory, relativeTo: PathResolver.directory(of: file))
        }
        if let value = entries["default_datastore"], !value.isNull {
            config.defaultDatastore = try value.string(expecting: "a datastore name")
        }
        for entry in try entries["compute"]?.entriesOrEmpty() ?? [] {
            let name = Self.computeName(entry.key) ?? entry.key
            var label: String? = name
            var resources = StepResources()
            if !entry.value.isNull {
                let fields = try entry.value.entries()
                for field in fields where field.key != "label" && !requirementKeys.contains(field.key) {
                    throw field.value.error(.unknownField, "unknown key '\(field.key)'; a compute target has label, \(requirementKeys.joined(separator: ", "))")
                }
                if let labelNode = fields["label"] {
                    if labelNode.isNull {
                        label = nil
                    } else {
                        let text = try labelNode.string(expecting: "a worker label")
                        guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "," }) else {
                            throw labelNode.error(.invalidType, "'\(text)' is not a label; expected a name without spaces or commas (or null for any worker)")
                        }
                        label = text
                    }
                }
                resources = try requirements(fields)
            }
            config.computeEntries[name] = ComputeEntry(label: label, resources: resources)
        }
        for entry in try entries["instance_types"]?.entriesOrEmpty() ?? [] {
            guard !entry.value.isNull else {
                config.instanceTypes[entry.key] = StepResources()
                continue
            }
            let fields = try entry.value.entries()
            for field in fields where !requirementKeys.contains(field.key) {
                throw field.value.error(.unknownField, "unknown key '\(field.key)'; an instance type has \(requirementKeys.joined(separator: ", "))")
            }
            config.instanceTypes[entry.key] = try requirements(fields)
        }
        return config
    }

    /// The `tracking_uri` of `mlflow:`: an `http://` or `https://` URL naming a host.
    private static func readMLflow(_ node: SourceNode) throws(SpecError) -> String? {
        let fields = try node.entries()
        for field in fields where field.key != "tracking_uri" {
            throw field.value.error(.unknownField, "unknown key '\(field.key)'; mlflow: has tracking_uri (e.g. http://127.0.0.1:5000)")
        }
        guard let value = fields["tracking_uri"], !value.isNull else {
            throw node.error(.invalidType, "mlflow: needs tracking_uri, the MLflow server's URL (e.g. http://127.0.0.1:5000)")
        }
        let text = try value.string(expecting: "a URL")
        guard let url = URLComponents(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil else {
            throw value.error(.invalidType, "'\(text)' is not an MLflow server's URL; expected http://HOST:PORT or https://HOST[:PORT][/PATH]")
        }
        return text
    }

    /// `cpu`, `memory`, `gpu` and `gpu_memory`, checked as in a step's `resources`.
    private static func requirements(_ fields: [(key: String, value: SourceNode)]) throws(SpecError) -> StepResources {
        var resources = StepResources()
        try SpecReader.readRequirementFields(fields, into: &resources)
        return resources
    }
}
