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
}
