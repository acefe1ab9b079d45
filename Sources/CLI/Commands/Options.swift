import ArgumentParser
import Foundation
import HTTPAPI
import Spec

/// Where the coordinator's HTTP API is.
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("coordinator-url"), help: "The coordinator's HTTP API (default: $CONDUIT_URL, else http://127.0.0.1:8765).")
    var coordinatorURL: String?

    @Option(name: .customLong("token-file"), help: ArgumentHelp("A file (mode 0600) holding the coordinator's bearer token (default: $CONDUIT_TOKEN_FILE). The token itself is never taken on the command line.", valueName: "FILE"))
    var tokenFile: String?

    func client() throws -> any CoordinatorClient {
        let text = coordinatorURL ?? ProcessInfo.processInfo.environment["CONDUIT_URL"] ?? "http://127.0.0.1:8765"
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
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a pipeline input, e.g. --set inputs.learning_rate=0.01 (repeatable).", valueName: "inputs.NAME=VALUE"))
    var overrides: [String] = []

    @OptionGroup var registry: RegistryOptions

    /// The loader's options these flags describe.
    func loadOptions() -> PipelineLoader.Options {
        PipelineLoader.Options(overrides: overrides, registry: registry.localRegistry())
    }
}

/// Logging verbosity.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default: $CONDUIT_LOG_LEVEL).")
    var logLevel: String?
}
