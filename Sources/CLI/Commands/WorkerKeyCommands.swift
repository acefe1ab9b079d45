import ArgumentParser
import Foundation
import Protocol

/// `conduit workers`: list workers (the default) and manage the worker key allow-list.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List workers, and allow or revoke the keys they authenticate with.",
        subcommands: [WorkersListCommand.self, WorkersAllowCommand.self, WorkersRevokeCommand.self, WorkersKeysCommand.self],
        defaultSubcommand: WorkersListCommand.self
    )
}

/// `conduit workers allow KEY_OR_PUBLIC_FILE --name NAME`.
struct WorkersAllowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allow",
        abstract: "Let a worker's public key connect (from its next handshake on)."
    )

    @Argument(help: "The worker's public key (40 characters of Z85) or its NAME.public file.")
    var key: String

    @Option(help: "Who the key belongs to (shown by `conduit workers keys`; `revoke` accepts it).")
    var name: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let publicKey = try KeyFiles.readPublicKey(key).z85
            let report = try await client.client().allowWorkerKey(publicKey, name: name)
            print("allowed \(report.name): \(report.publicKey)")
            return ExitStatus.success
        }
    }
}

/// `conduit workers revoke KEY_OR_NAME`.
struct WorkersRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a worker key: its workers are dropped at once (their steps run elsewhere) and it cannot connect again."
    )

    @Argument(help: "The public key, its NAME.public file, or the name it was allowed under.")
    var key: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let client = try await client.client()
            let publicKey = try await Self.resolve(key, client: client)
            let report = try await client.revokeWorkerKey(publicKey)
            let dropped = report.workers.isEmpty ? "" : "; dropped \(report.workers.joined(separator: ", "))"
            print("revoked \(report.name): \(report.publicKey)\(dropped)")
            return ExitStatus.success
        }
    }

    /// A key given directly or as a file, else the one allowed (and not yet revoked) under that name.
    static func resolve(_ text: String, client: any CoordinatorClient) async throws -> String {
        if let key = try? KeyFiles.readPublicKey(text) { return key.z85 }
        let matches = try await client.workerKeys().filter { $0.name == text && $0.revokedAt == nil }
        guard let match = matches.first else {
            throw CLIError("no allowed worker key is named \(text), and it is not a public key: see `conduit workers keys`")
        }
        guard matches.count == 1 else {
            throw CLIError("\(matches.count) allowed keys are named \(text): revoke one by its public key (see `conduit workers keys`)")
        }
        return match.publicKey
    }
}

/// `conduit workers keys`.
struct WorkersKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "List the worker keys on the allow-list, revoked ones included.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let keys = try await client.client().workerKeys()
            if json {
                printJSON(keys)
                return ExitStatus.success
            }
            if keys.isEmpty { print("no worker keys: allow one with `conduit workers allow NAME.public --name NAME`") }
            let width = max(4, keys.map(\.name.count).max() ?? 4)
            for key in keys {
                let state = key.revokedAt == nil ? "allowed" : "revoked"
                let users = key.workers.isEmpty ? "" : "  (\(key.workers.joined(separator: ", ")))"
                print("\(key.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(state)  \(key.publicKey)\(users)")
            }
            return ExitStatus.success
        }
    }
}
