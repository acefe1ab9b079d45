import ArgumentParser
import Foundation
import Protocol
import Spec

/// Where the registry is: `--registry DIR`, else `$CONDUIT_REGISTRY`, else `$CONDUIT_HOME/registry`.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("registry"), help: ArgumentHelp("The registry folder that azureml: references resolve in (default: $CONDUIT_REGISTRY, else $CONDUIT_HOME/registry).", valueName: "DIR"))
    var registry: String?

    /// The registry these flags name.
    func localRegistry() -> LocalRegistry {
        let environment = ProcessInfo.processInfo.environment["CONDUIT_REGISTRY"].flatMap { $0.isEmpty ? nil : $0 }
        let path = registry ?? environment ?? (EmbeddedSystem.defaultDataDirectory as NSString).appendingPathComponent("registry")
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return LocalRegistry(root: (absolute as NSString).standardizingPath)
    }
}

/// `conduit component create|list|show`.
struct ComponentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "component", abstract: "Register command components and list them.",
        subcommands: [ComponentCreateCommand.self, ComponentListCommand.self, ComponentShowCommand.self]
    )
}

/// `conduit data create|list|show`.
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Register data assets (snapshotted by content) and list them.",
        subcommands: [DataCreateCommand.self, DataListCommand.self, DataShowCommand.self]
    )
}

/// `--set KEY=VALUE` on a create command, as `az ml component|data create --set` has it.
struct AssetOverrideOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Change a field of the file before it is registered, as az ml --set does (repeatable): version=3, description=\"new\", inputs.lr.default=0.2, path=./other. KEY is a dotted path into the file; VALUE is YAML.", valueName: "KEY=VALUE"))
    var overrides: [String] = []
}

/// Which named registry, if any, a component or data command works in.
struct RegistryNameOption: ParsableArguments {
    @Option(name: .customLong("registry-name"), help: ArgumentHelp("A named registry (referenced as azureml://registries/NAME/components/... or .../data/...) instead of the workspace.", valueName: "NAME"))
    var registryName: String?

    func validate() throws {
        if let registryName, let problem = LocalRegistry.problem(withRegistryName: registryName) {
            throw ValidationError(problem)
        }
    }

    var scope: AssetReference.Scope { registryName.map { .registry($0) } ?? .workspace }
}

struct ComponentCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Register a command component: its file and a snapshot of its code: folder become an immutable version."
    )

    @Option(name: .customLong("file"), help: ArgumentHelp("The component YAML file.", valueName: "FILE"))
    var file: String

    @OptionGroup var fieldOverrides: AssetOverrideOptions

    @Option(help: "The version to create (default: the file's version:, else one more than the largest integer version).")
    var version: String?

    @OptionGroup var namespace: RegistryNameOption
    @OptionGroup var registry: RegistryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let outcome = try RegistryPublisher.publishComponent(
                file: file, overrides: fieldOverrides.overrides, version: version, scope: namespace.scope, registry: registry.localRegistry(), now: Int64(Date().timeIntervalSince1970 * 1000)
            )
            RegistryOutput.printOutcome(outcome, json: json)
            return ExitStatus.success
        }
    }
}

struct ComponentListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List registered components: name, versions, latest, created.")

    @OptionGroup var namespace: RegistryNameOption
    @OptionGroup var registry: RegistryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let index = try RegistryPublisher.readIndex(.component, namespace.scope, registry.localRegistry())
            RegistryOutput.printList(index, kind: .component, json: json)
            return ExitStatus.success
        }
    }
}

struct ComponentShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a registered component version and its definition.")

    @Argument(help: ArgumentHelp("NAME, NAME:VERSION or NAME@latest (default: latest).", valueName: "NAME[:VERSION|@latest]"))
    var asset: String

    @OptionGroup var namespace: RegistryNameOption
    @OptionGroup var registry: RegistryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            try RegistryOutput.show(asset, kind: .component, scope: namespace.scope, registry: registry.localRegistry(), json: json)
            return ExitStatus.success
        }
    }
}

struct DataCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Register a data asset: a copy of its content becomes an immutable version."
    )

    @Option(name: .customLong("file"), help: ArgumentHelp("The data asset YAML file (name, version, type, path, description).", valueName: "FILE"))
    var file: String

    @OptionGroup var fieldOverrides: AssetOverrideOptions

    @Option(help: "The version to create (default: the file's version:, else one more than the largest integer version).")
    var version: String?

    @OptionGroup var namespace: RegistryNameOption
    @OptionGroup var registry: RegistryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let outcome = try RegistryPublisher.publishData(
                file: file, overrides: fieldOverrides.overrides, version: version, scope: namespace.scope, registry: registry.localRegistry(),
                now: Int64(Date().timeIntervalSince1970 * 1000)
            )
            RegistryOutput.printOutcome(outcome, json: json)
            return ExitStatus.success
        }
    }
}

struct DataListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List registered data assets: name, versions, latest, created.",
        discussion: "Lists the local registry's data assets, then those runs registered (outputs with name:), which the coordinator keeps; when it cannot be reached, a note on stderr says so."
    )

    @OptionGroup var namespace: RegistryNameOption
    @OptionGroup var registry: RegistryOptions
    @OptionGroup var client: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let index = try RegistryPublisher.readIndex(.data, namespace.scope, registry.localRegistry())
            var produced: [OutputAsset] = []
            if case .workspace = namespace.scope {
                do {
                    produced = try await client.client().outputAssets()
                } catch {
                    FileHandle.standardError.write(Data("note: the coordinator could not be asked for the data assets runs registered (for the runs of `conduit run` on this machine, add --embedded): \(error)\n".utf8))
                }
            }
            RegistryOutput.printDataList(index, produced: produced, json: json)
            return ExitStatus.success
        }
    }
}

struct DataShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a registered data asset version, and the run and step that produced it.",
        discussion: "Looks in the local registry first, then among the data assets runs registered (outputs with name:), which the coordinator keeps."
    )

    @Argument(help: ArgumentHelp("NAME, NAME:VERSION or NAME@latest (default: latest).", valueName: "NAME[:VERSION|@latest]"))
    var asset: String

    @OptionGroup var namespace: RegistryNameOption
    @OptionGroup var registry: RegistryOptions
    @OptionGroup var client: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let local = registry.localRegistry()
            guard case .workspace = namespace.scope, try !RegistryOutput.holds(asset, kind: .data, scope: namespace.scope, registry: local) else {
                try RegistryOutput.show(asset, kind: .data, scope: namespace.scope, registry: local, json: json)
                return ExitStatus.success
            }
            let produced: [OutputAsset]
            do {
                produced = try await client.client().outputAssets()
            } catch {
                throw CLIError(
                    "error: no data asset '\(asset)' in the registry \(local.root), and the coordinator (which keeps the outputs runs registered) could not be asked (for the runs of `conduit run` on this machine, add --embedded): \(error)",
                    exitCode: ExitStatus.unavailable)
            }
            try RegistryOutput.showProduced(asset, among: produced, registry: local, json: json)
            return ExitStatus.success
        }
    }
}
