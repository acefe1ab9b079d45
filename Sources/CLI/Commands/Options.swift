import ArgumentParser
import Foundation

/// Where the coordinator's HTTP API is.
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("coordinator-url"), help: "The coordinator's HTTP API (default: $CONDUIT_URL, else http://127.0.0.1:8765).")
    var coordinatorURL: String?

    func client() throws -> any CoordinatorClient {
        let text = coordinatorURL ?? ProcessInfo.processInfo.environment["CONDUIT_URL"] ?? "http://127.0.0.1:8765"
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw CLIError("--coordinator-url \(text) is not an http:// URL")
        }
        return HTTPCoordinatorClient(baseURL: url)
    }
}

/// Pipeline parameters set on the command line.
struct OverrideOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a pipeline input, e.g. --set inputs.learning_rate=0.01 (repeatable).", valueName: "inputs.NAME=VALUE"))
    var overrides: [String] = []
}

/// Logging verbosity.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default: $CONDUIT_LOG_LEVEL).")
    var logLevel: String?
}
