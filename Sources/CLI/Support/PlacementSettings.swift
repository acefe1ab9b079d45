import Coordinator
import Foundation
import Spec

/// The coordinator's `--config` file, read into a `PlacementPolicy`.
enum PlacementSettings {
    /// The policy in `file`, or the default one when there is no file; a bad file stops the
    /// coordinator with the file, line and field at fault.
    static func load(_ file: String?) throws -> PlacementPolicy {
        guard let file else { return PlacementPolicy() }
        let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        do throws(SpecError) {
            let config = try PlacementConfigFile.load(file: path)
            return PlacementPolicy(
                computeTargets: config.computeEntries.mapValues { PlacementPolicy.ComputeTarget(label: $0.label, demand: $0.resources) },
                instanceTypes: config.instanceTypes
            )
        } catch {
            throw CLIError("conduit coordinator: --config: \(error)", exitCode: ExitStatus.usage)
        }
    }

    /// The datastores in `file` (none without a file) and `extra` (from --datastore, which win),
    /// over the standard `workspaceblobstore` under `dataDirectory`.
    static func datastores(_ file: String?, extra: [String: String], dataDirectory: String) throws -> Datastores {
        var configured: [String: String] = [:]
        var defaultName: String?
        if let file {
            let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
            do throws(SpecError) {
                let config = try PlacementConfigFile.load(file: path)
                configured = config.datastores
                defaultName = config.defaultDatastore
            } catch {
                throw CLIError("conduit coordinator: --config: \(error)", exitCode: ExitStatus.usage)
            }
        }
        configured.merge(extra) { _, new in new }
        let datastores = Datastores.standard(dataDirectory: dataDirectory, extra: configured, defaultName: defaultName)
        guard datastores.directories[datastores.defaultName] != nil else {
            throw CLIError("conduit coordinator: --config: default_datastore \(datastores.defaultName) is not one of the datastores (\(datastores.directories.keys.sorted().joined(separator: ", ")))")
        }
        return datastores
    }

    /// The MLflow server the `mlflow:` part of `file` names, if any.
    static func mlflowTrackingURI(_ file: String?) throws -> String? {
        guard let file else { return nil }
        let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        do throws(SpecError) {
            return try PlacementConfigFile.load(file: path).mlflowTrackingURI
        } catch {
            throw CLIError("conduit coordinator: --config: \(error)", exitCode: ExitStatus.usage)
        }
    }
}
