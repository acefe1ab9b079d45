import Coordinator
import Foundation
import Protocol
import Spec

/// What the registry commands print: human text by default, JSON with `--json`.
enum RegistryOutput {
    /// One asset in `list --json`.
    struct ListEntry: Encodable {
        var name: String
        var versions: [String]
        var latest: String
        var created: String
    }

    /// `show --json`: the record, where it lies, and (for components) the definition text.
    struct Shown: Encodable {
        var asset: RegisteredAsset
        var reference: String
        var path: String
        var definition: String?
    }

    /// `create --json`.
    struct Created: Encodable {
        var asset: RegisteredAsset
        var reference: String
        var created: Bool
    }

    static func printOutcome(_ outcome: RegistryPublisher.Outcome, json: Bool) {
        if json {
            printJSON(Created(asset: outcome.asset, reference: outcome.reference.description, created: outcome.created))
        } else if outcome.created {
            print("registered \(outcome.asset.kind.rawValue) \(outcome.asset.name) version \(outcome.asset.version): use it as \(outcome.reference)")
        } else {
            print("\(outcome.asset.kind.rawValue) \(outcome.asset.name) version \(outcome.asset.version) is already registered with identical content; nothing changed (\(outcome.reference))")
        }
    }

    static func printList(_ index: RegistryIndex, kind: AssetKind, json: Bool) {
        let entries = index.names.compactMap { name -> ListEntry? in
            guard let latest = index.latest(of: name) else { return nil }
            return ListEntry(name: name, versions: index.versions(of: name).map(\.version), latest: latest.version, created: date(latest.createdAt))
        }
        if json {
            printJSON(entries)
            return
        }
        guard !entries.isEmpty else {
            print("no \(kind.rawValue) assets registered yet: add one with `conduit \(kind.rawValue) create --file FILE.yml`")
            return
        }
        printTable([["NAME", "VERSIONS", "LATEST", "CREATED"]] + entries.map { [$0.name, $0.versions.joined(separator: ","), $0.latest, $0.created] })
    }

    /// Rows as columns padded to their widest cell.
    static func printTable(_ rows: [[String]]) {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    static func show(_ text: String, kind: AssetKind, scope: AssetReference.Scope, registry: LocalRegistry, json: Bool) throws {
        let parsed = try parsed(text, kind: kind)
        let index = try RegistryPublisher.readIndex(kind, scope, registry)
        let asset: RegisteredAsset
        switch index.resolve(parsed.name, parsed.selector, kind: kind) {
        case .success(let found): asset = found
        case .failure(let failure): throw CLIError("error: \(failure.message) in the registry \(registry.root)")
        }
        let folder = registry.directory(of: kind, in: scope, name: asset.name, version: asset.version)
        let reference = AssetReference(kind: kind, scope: scope, name: asset.name, selector: .version(asset.version)).description
        let definition = asset.definitionFile.flatMap { try? String(contentsOfFile: "\(folder)/\($0)", encoding: .utf8) }
        if json {
            printJSON(Shown(asset: asset, reference: reference, path: folder, definition: definition))
            return
        }
        print("\(kind.rawValue): \(asset.name)")
        print("version: \(asset.version)\(index.latest(of: asset.name)?.version == asset.version ? " (latest)" : "")")
        print("reference: \(reference)")
        print("created: \(date(asset.createdAt))")
        print("digest: \(asset.digest)")
        if let description = asset.description { print("description: \(description)") }
        if let type = asset.dataType { print("type: \(type.rawValue)") }
        if let content = asset.contentPath { print("content: \(folder)/\(content)") }
        if let code = asset.codeDirectory { print("code: \(folder)/\(code)") }
        if let source = asset.source { print("registered from: \(source)") }
        print("versions: \(index.versions(of: asset.name).map(\.version).joined(separator: ", "))")
        if let definition {
            print("---")
            print(definition, terminator: definition.hasSuffix("\n") ? "" : "\n")
        }
    }

    /// `text` as a reference (`NAME` meaning `NAME@latest`).
    static func parsed(_ text: String, kind: AssetKind) throws -> AssetReference {
        var written = text.hasPrefix("azureml:") ? String(text.dropFirst("azureml:".count)) : text
        if !written.contains(":"), !written.contains("@") { written += "@latest" }
        guard case .reference(let parsed) = AssetReference.parse("azureml:" + written, kind: kind) else {
            throw CLIError("error: '\(text)' is not NAME, NAME:VERSION or NAME@latest")
        }
        return parsed
    }

    /// Whether the local registry has a version of the asset `text` names (by its name).
    static func holds(_ text: String, kind: AssetKind, scope: AssetReference.Scope, registry: LocalRegistry) throws -> Bool {
        let reference = try parsed(text, kind: kind)
        return try !RegistryPublisher.readIndex(kind, scope, registry).versions(of: reference.name).isEmpty
    }

    /// `data list` with the data assets runs registered after the local registry's.
    static func printDataList(_ index: RegistryIndex, produced: [OutputAsset], json: Bool) {
        let byRuns = OutputRegistration.index(of: produced)
        func entries(_ index: RegistryIndex, source: String) -> [DataListEntry] {
            index.names.compactMap { name in
                guard let latest = index.latest(of: name) else { return nil }
                return DataListEntry(
                    name: name, versions: index.versions(of: name).map(\.version), latest: latest.version, created: date(latest.createdAt),
                    source: source
                )
            }
        }
        let all = entries(index, source: "registry") + entries(byRuns, source: "runs")
        if json {
            printJSON(all)
            return
        }
        guard !all.isEmpty else {
            print("no data assets registered yet: add one with `conduit data create --file FILE.yml`, or give a pipeline output name:")
            return
        }
        printTable([["NAME", "VERSIONS", "LATEST", "CREATED", "REGISTERED BY"]]
            + all.map { [$0.name, $0.versions.joined(separator: ","), $0.latest, $0.created, $0.source == "runs" ? "a run's output" : "conduit data create"] })
    }

    /// One asset in `data list --json`: `source` is `registry` (`conduit data create`) or `runs`.
    struct DataListEntry: Encodable {
        var name: String
        var versions: [String]
        var latest: String
        var created: String
        var source: String
    }

    /// `data show --json` for an asset a run registered.
    struct ShownProduced: Encodable {
        var asset: OutputAsset
        var reference: String
        var latest: Bool
        var versions: [String]
    }

    /// Shows the data asset `text` names among those runs registered, naming the run and step
    /// that produced it.
    static func showProduced(_ text: String, among produced: [OutputAsset], registry: LocalRegistry, json: Bool) throws {
        let reference = try parsed(text, kind: .data)
        let index = OutputRegistration.index(of: produced)
        let record: RegisteredAsset
        switch index.resolve(reference.name, reference.selector, kind: .data) {
        case .success(let found): record = found
        case .failure(let failure):
            throw CLIError("error: \(failure.message) among the outputs runs registered, and none in the registry \(registry.root)")
        }
        guard let asset = produced.first(where: { $0.name == record.name && $0.version == record.version }) else {
            throw CLIError("error: no data asset \(record.name):\(record.version)")
        }
        let versions = index.versions(of: asset.name).map(\.version)
        let isLatest = index.latest(of: asset.name)?.version == asset.version
        if json {
            printJSON(ShownProduced(asset: asset, reference: asset.reference, latest: isLatest, versions: versions))
            return
        }
        print("data: \(asset.name)")
        print("version: \(asset.version)\(isLatest ? " (latest)" : "")")
        print("reference: \(asset.reference)")
        print("created: \(date(asset.createdAt))")
        print("type: \(asset.type)")
        print("digest: \(asset.digest)")
        print("produced by: run \(asset.runID), step \(asset.step), output \(asset.output)")
        print("download: conduit download \(asset.runID) \(asset.step).\(asset.output) DIR")
        print("lineage: conduit lineage \(asset.reference)")
        print("versions: \(versions.joined(separator: ", "))")
    }

    static func date(_ milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
