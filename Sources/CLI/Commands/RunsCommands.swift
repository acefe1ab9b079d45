import ArgumentParser
import Foundation
import Protocol
import Spec

/// `conduit runs` (`conduit runs list`) and `conduit runs prune`.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List recent runs, newest first; prune old ones.",
        subcommands: [RunsListCommand.self, RunsPruneCommand.self],
        defaultSubcommand: RunsListCommand.self
    )
}

/// `conduit runs prune --older-than 30d [--keep-last N] [--dry-run]`.
struct RunsPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete runs that ended long ago, their logs and metrics, and the blobs nothing else refers to.",
        discussion: """
            A run still going is never deleted. Blobs that a remaining run, a cache entry, an attempt's MLflow \
            store or a data asset of the local registry refers to stay; a cache entry whose blobs go is dropped, \
            so a later submission runs that step again. See docs/tracking.md, "Retention".
            """
    )

    @Option(name: .customLong("older-than"), help: ArgumentHelp("Delete runs that ended more than this long ago: 30d, 12h, 90m.", valueName: "AGE"))
    var olderThan: String?

    @Option(name: .customLong("ended-before"), help: ArgumentHelp("Delete runs that ended before this time: ISO 8601 (2026-11-01T00:00:00Z) or milliseconds since 1970.", valueName: "TIME"))
    var endedBefore: String?

    @Option(name: .customLong("keep-last"), help: ArgumentHelp("Keep the newest N ended runs of each pipeline, however old.", valueName: "N"))
    var keepLast: Int?

    @Flag(name: .customLong("dry-run"), help: "Say what would be deleted; delete nothing.")
    var dryRun = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var registry: RegistryOptions

    @OptionGroup var client: ClientOptions

    func validate() throws {
        switch (olderThan, endedBefore) {
        case (nil, nil): throw ValidationError("say which runs to delete: --older-than AGE (30d, 12h, 90m) or --ended-before TIME")
        case (.some, .some): throw ValidationError("--older-than and --ended-before both set a cutoff: choose one")
        default: break
        }
        if let olderThan {
            do { _ = try RetentionAge(parsing: olderThan) } catch { throw ValidationError("--older-than: \(error)") }
        }
        if let endedBefore, Self.time(endedBefore) == nil {
            throw ValidationError("--ended-before: '\(endedBefore)' is neither an ISO 8601 time (2026-11-01T00:00:00Z) nor milliseconds since 1970")
        }
        if let keepLast, keepLast < 0 { throw ValidationError("--keep-last must be 0 or more, got \(keepLast)") }
    }

    func run() async throws {
        try await withCLIErrors {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let cutoff = try olderThan.map { now - (try RetentionAge(parsing: $0)).milliseconds } ?? Self.time(endedBefore!)!
            let keep = try Self.registeredData(in: registry.localRegistry())
            let report = try await client.client().prune(PruneRequest(endedBefore: cutoff, keepLast: keepLast, dryRun: dryRun, keep: keep))
            if json {
                printJSON(report)
            } else {
                print(Self.describe(report))
            }
            return ExitStatus.success
        }
    }

    /// Milliseconds since 1970 from an ISO 8601 time or a number of milliseconds.
    static func time(_ text: String) -> Int64? {
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) { return Int64(text) }
        return ISO8601DateFormatter().date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }

    /// The content digests of every data asset version in the registry (the workspace's and every
    /// named registry's): their blobs stay.
    static func registeredData(in registry: LocalRegistry) throws -> [String] {
        var digests = Set<String>()
        let scopes: [AssetReference.Scope] = [.workspace] + registry.registryNames().map { .registry($0) }
        for scope in scopes {
            let index: RegistryIndex
            do {
                index = try registry.index(of: .data, in: scope)
            } catch {
                throw CLIError("cannot read the registry's data assets, so nothing was pruned: \(error)", exitCode: ExitStatus.usage)
            }
            for name in index.names {
                for version in index.versions(of: name) { digests.insert(version.digest) }
            }
        }
        return digests.sorted()
    }

    /// What a prune freed, in a few lines.
    static func describe(_ report: PruneReport) -> String {
        let verb = report.dryRun ? "would delete" : "deleted"
        var lines = [
            "\(verb) \(report.runs.count) run\(report.runs.count == 1 ? "" : "s") that ended before "
                + ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(report.endedBefore) / 1000)),
            "  \(report.attempts) attempts, \(ByteCount.format(report.logBytes)) of logs, \(report.metricPoints) metric values",
            "  \(report.blobs) blobs, \(ByteCount.format(report.blobBytes))",
            "  \(report.cacheEntries) cache entries dropped (those steps run again), \(report.cacheEntriesKept) kept with their blobs",
        ]
        if !report.runs.isEmpty {
            let shown = report.runs.prefix(10).joined(separator: ", ")
            lines.append("  runs: \(shown)\(report.runs.count > 10 ? ", and \(report.runs.count - 10) more" : "")")
        }
        if report.dryRun { lines.append("nothing was deleted (--dry-run)") }
        return lines.joined(separator: "\n")
    }
}
