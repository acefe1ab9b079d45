import ArgumentParser
import Foundation

/// The `conduit` command.
@main
struct Conduit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conduit",
        abstract: "Run ML pipelines written in Azure ML CLI v2 YAML on your own machines, reusing unchanged steps.",
        discussion: """
            One machine: conduit run pipeline.yml

            A cluster: conduit keys generate --name NAME for the coordinator and each worker; conduit coordinator --data-dir DIR --secret-key coordinator.secret on the head node; export CONDUIT_URL=http://127.0.0.1:8765 there; conduit workers allow NAME.public --name NAME for each worker; conduit worker --coordinator tcp://HEAD:5555 --secret-key NAME.secret --coordinator-key coordinator.public on each node; then conduit submit pipeline.yml --wait.

            Without --coordinator-url or CONDUIT_URL, commands use the local service of this machine ($CONDUIT_HOME, else $HOME/.conduit), started when needed: `conduit run` in one terminal, `conduit status`, `runs`, `logs` in another.

            Exit status: 0 success; 1 the run failed or was canceled; 2 invalid pipeline or arguments; 3 the coordinator could not be reached or failed; 130 interrupted by Ctrl-C.
            """,
        version: "0.1.0",
        subcommands: [
            RunCommand.self, ValidateCommand.self, CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self,
            StatusCommand.self, MetricsCommand.self, RunsCommand.self, WorkersCommand.self, LogsCommand.self, CancelCommand.self,
            DownloadCommand.self, ExplainCommand.self, LineageCommand.self, KeysCommand.self,
            RerunCommand.self, DiffCommand.self, StepCommand.self,
            ComponentCommand.self, DataCommand.self, StoreCommand.self, ServiceCommand.self, StudioCommand.self,
        ]
    )

    /// Parses and runs the command as ArgumentParser does, except that a usage or validation error
    /// (an unknown option, a missing argument, a `ValidationError`) exits 2, the status documented
    /// for invalid arguments, instead of ArgumentParser's 64. `--help` and `--version` still exit 0.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(ExitStatus.usage)
        }
    }
}

/// Runs a command body, printing `CLIError`s and exiting with their status.
func withCLIErrors(_ body: () async throws -> Int32) async throws {
    let status: Int32
    do {
        status = try await body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("\(error.message)\n".utf8))
        status = error.exitCode
    }
    if status != 0 { throw ExitCode(status) }
}
