import ArgumentParser
import Coordinator
import Foundation

/// `conduit store`: maintenance of a coordinator's data directory.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Check a stopped coordinator's data directory.",
        subcommands: [StoreVerifyCommand.self]
    )
}

/// `conduit store verify [--repair] [--rate 200MiB/s] --data-dir D`.
struct StoreVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash every stored blob and check the cache entries' blobs are present.",
        discussion: """
            Runs on a stopped coordinator's data directory (it refuses while a coordinator holds it: a running \
            coordinator verifies every blob it serves). Prints what it found: ok, corrupt and missing blobs, and \
            the cache entries that use a bad blob. With --repair, corrupt blobs move to blobs/quarantine/ and those \
            cache entries are dropped, so the steps run again on the next submission. Exit status: 0 when the \
            store is sound or was repaired, 1 when problems were found and not repaired, 3 when it cannot run.
            """
    )

    @Option(name: .customLong("data-dir"), help: "The coordinator's data directory.")
    var dataDirectory: String

    @Flag(help: "Quarantine corrupt blobs and drop the cache entries that use corrupt or missing blobs.")
    var repair = false

    @Option(help: ArgumentHelp("The most bytes hashed per second, e.g. 200MiB/s, 1GiB/s.", valueName: "RATE"))
    var rate: String = "200MiB/s"

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard StoreVerification.parseRate(rate) != nil else {
            throw ValidationError("--rate must be a positive rate such as 200MiB/s, 1GiB/s or 500KiB/s, not \(rate)")
        }
    }

    func run() async throws {
        try await withCLIErrors {
            let verification = StoreVerification(dataDirectory: dataDirectory, bytesPerSecond: StoreVerification.parseRate(rate)!, repair: repair)
            let report: StoreVerification.Report
            do {
                report = try verification.run { line in FileHandle.standardError.write(Data("\(line)\n".utf8)) }
            } catch let error as CoordinatorError {
                throw CLIError("conduit store verify: \(error.message)", exitCode: ExitStatus.unavailable)
            }
            if json {
                printJSON(report)
            } else {
                print("ok: \(report.okBlobs) blobs (\(StoreVerification.describe(bytes: report.okBytes)))")
                print("corrupt: \(report.corrupt.count) blobs (\(StoreVerification.describe(bytes: report.corruptBytes)))\(report.repaired && !report.corrupt.isEmpty ? ", quarantined" : "")")
                for digest in report.corrupt { print("  corrupt \(digest)") }
                print("missing: \(report.missing.count) blobs used by cache entries")
                for digest in report.missing { print("  missing \(digest)") }
                let entries = report.brokenCacheEntries
                if report.repaired {
                    print("cache entries using them: \(entries), dropped (those steps run again on the next submission)")
                } else {
                    print("cache entries using them: \(entries)\(entries > 0 || !report.corrupt.isEmpty ? "; run again with --repair to quarantine and drop them" : "")")
                }
            }
            return report.isClean ? ExitStatus.success : ExitStatus.runFailed
        }
    }
}
