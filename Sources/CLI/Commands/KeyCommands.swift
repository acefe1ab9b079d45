import ArgumentParser
import Foundation

/// `conduit keys`: CURVE key pairs for coordinators and workers.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage CURVE key pairs that authenticate workers and the coordinator.",
        subcommands: [KeysGenerateCommand.self]
    )
}

/// `conduit keys generate --name NAME [--dir DIR]`.
struct KeysGenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Create NAME.secret (mode 0600) and NAME.public; print the public key.",
        discussion: """
            Give the coordinator its NAME.secret with --secret-key and each worker its own with --secret-key. \
            Workers pin the coordinator's public key with --coordinator-key; the coordinator lets a worker in \
            once its public key is allowed with `conduit workers allow NAME.public --name NAME`.
            """
    )

    @Option(help: "The key pair's name: the files are NAME.secret and NAME.public.")
    var name: String

    @Option(name: .customLong("dir"), help: "Where to write the files (default: the current directory).")
    var directory: String = "."

    @Flag(help: "Print JSON: the name, the public key and both paths.")
    var json = false

    func run() async throws {
        try await withCLIErrors {
            let (secret, publicPath, keys) = try KeyFiles.generate(name: name, directory: directory)
            if json {
                printJSON(["name": name, "publicKey": keys.publicKey.z85, "secretFile": secret, "publicFile": publicPath])
            } else {
                print(keys.publicKey.z85)
                FileHandle.standardError.write(Data("wrote \(secret) (secret, mode 0600) and \(publicPath)\n".utf8))
            }
            return ExitStatus.success
        }
    }
}
