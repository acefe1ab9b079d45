import ArgumentParser
import Foundation
import HTTPAPI
import Logging
import Spec

/// Where the coordinator is: a coordinator daemon's HTTP API (`--coordinator-url`, `$CONDUIT_URL`),
/// else the local service of this machine's data directory (started when needed).
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("coordinator-url"), help: "A coordinator daemon's HTTP API (default: $CONDUIT_URL; without either, the local service of $CONDUIT_HOME, started when needed).")
    var coordinatorURL: String?

    @Option(name: .customLong("token-file"), help: ArgumentHelp("A file (mode 0600) holding the coordinator's bearer token (default: $CONDUIT_TOKEN_FILE). The token itself is never taken on the command line.", valueName: "FILE"))
    var tokenFile: String?

    @Flag(help: ArgumentHelp("Use the local service (the default without --coordinator-url and $CONDUIT_URL); kept for scripts written before it existed.", visibility: .hidden))
    var embedded = false

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The local service's data directory (default: $CONDUIT_HOME, else $HOME/.conduit).", valueName: "DIR"))
    var dataDirectory: String?

    func validate() throws {
        if (embedded || dataDirectory != nil) && coordinatorURL != nil {
            throw ValidationError("--coordinator-url names a coordinator daemon; --embedded and --data-dir name the local service: choose one")
        }
    }

    /// The URL of a coordinator daemon the command names, if any.
    var daemonURL: String? {
        if embedded || dataDirectory != nil { return nil }
        return coordinatorURL ?? ProcessInfo.processInfo.environment["CONDUIT_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func client() async throws -> any CoordinatorClient {
        guard let text = daemonURL else {
            return try await LocalService.client(dataDirectory: dataDirectory ?? EmbeddedSystem.defaultDataDirectory)
        }
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw CLIError("--coordinator-url \(text) is not an http:// URL")
        }
        let tokenPath = tokenFile ?? ProcessInfo.processInfo.environment["CONDUIT_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        do throws(HTTPAccessError) {
            let token: BearerToken? = if let tokenPath { try BearerToken(readingFile: tokenPath) } else { nil }
            return HTTPCoordinatorClient(baseURL: url, token: token)
        } catch {
            throw CLIError(error.message)
        }
    }
}

/// Pipeline parameters set on the command line.
struct OverrideOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Change a field of the pipeline file before it is read, as az ml --set does (repeatable): inputs.learning_rate=0.01, inputs.data.path=./other, settings.default_compute=azureml:gpu, jobs.train.inputs.epochs=5, jobs.train.component=azureml:train@latest. VALUE is YAML.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(name: .customLong("environments"), help: ArgumentHelp("A file mapping environment names to requirements or interpreters (default: $CONDUIT_ENVIRONMENTS, else $CONDUIT_HOME/environments.yml when it exists).", valueName: "FILE"))
    var environmentsFile: String?

    @OptionGroup var registry: RegistryOptions

    /// The loader's options these flags describe; interpreters the environments file maps to are
    /// looked at on this machine (see `InterpreterInspector`).
    func loadOptions() -> PipelineLoader.Options {
        PipelineLoader.Options(
            overrides: overrides, environmentsFile: environmentsFilePath(), registry: registry.localRegistry(),
            inspectInterpreter: InterpreterInspector.inspect
        )
    }

    /// `--environments`, else `$CONDUIT_ENVIRONMENTS`, else `$CONDUIT_HOME/environments.yml` when it exists.
    func environmentsFilePath() -> String? {
        if let environmentsFile { return environmentsFile }
        if let variable = ProcessInfo.processInfo.environment["CONDUIT_ENVIRONMENTS"], !variable.isEmpty { return variable }
        let standard = EmbeddedSystem.defaultDataDirectory + "/environments.yml"
        return FileManager.default.fileExists(atPath: standard) ? standard : nil
    }
}

/// Logging verbosity.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default: $CONDUIT_LOG_LEVEL).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text (the default) or json: one JSON object per line with time, level, label, message and metadata.")
    var logFormat: LogFormat = .text
}

/// `--datastore NAME=DIR`: where `azureml://datastores/NAME/paths/...` points on the coordinator's machine.
struct DatastoreOptions: ParsableArguments {
    @Option(name: .customLong("datastore"), help: ArgumentHelp(
        "Map a datastore name to a directory (repeatable): data inputs at azureml://datastores/NAME/paths/P read DIR/P, outputs with such a path are written there. workspaceblobstore is always there (under the data directory) unless mapped here.",
        valueName: "NAME=DIR"))
    var datastores: [String] = []

    /// Name → absolute directory.
    func directories() throws -> [String: String] {
        var result: [String: String] = [:]
        for entry in datastores {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw CLIError("--datastore \(entry): expected NAME=DIR, e.g. --datastore shared=/mnt/shared")
            }
            let name = String(entry[..<equals])
            var directory = String(entry[entry.index(after: equals)...])
            guard !name.contains("/"), !directory.isEmpty else {
                throw CLIError("--datastore \(entry): expected NAME=DIR with a name without '/' and a directory")
            }
            if !directory.hasPrefix("/") { directory = FileManager.default.currentDirectoryPath + "/" + directory }
            result[name] = directory
        }
        return result
    }
}
