import Artifacts
import Foundation
import Protocol

/// Copies a run's pipeline outputs to `DIR/OUTPUT_NAME`.
enum OutputDownloader {
    /// Downloads every pipeline output of `run` under `directory`; returns name → local path.
    static func download(run: String, into directory: String, client: any CoordinatorClient) async throws -> [String: String] {
        var paths: [String: String] = [:]
        for output in try await client.outputs(run: run) {
            try checkOutputName(output.name)
            let destination = (directory as NSString).appendingPathComponent(output.name)
            try await download(artifact: output.artifact, to: destination, client: client)
            paths[output.name] = destination
        }
        return paths
    }

    /// Points `DIR/latest` at `DIR/RUN` (a relative link, replaced in one rename).
    static func pointLatest(at run: String, in directory: String) {
        let temporary = directory + "/.latest-\(getpid())"
        unlink(temporary)
        guard symlink(run, temporary) == 0 else { return }
        if rename(temporary, directory + "/latest") != 0 { unlink(temporary) }
    }

    /// Refuses an output name that is not one plain path component: the names come from the coordinator,
    /// which accepts plans from any client, and `DIR/NAME` is replaced whole.
    static func checkOutputName(_ name: String) throws {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0) else {
            throw CLIError(
                "the coordinator named an output '\(name)', which is not a plain file name; nothing was written",
                exitCode: ExitStatus.unavailable)
        }
    }

    /// Recreates one artifact at `destination` (a file, or a folder replaced whole).
    static func download(artifact: String, to destination: String, client: any CoordinatorClient) async throws {
        let fileManager = FileManager.default
        let staging = NSTemporaryDirectory() + "conduit-download-" + UUID().uuidString
        try fileManager.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(atPath: staging) }
        let manifestPath = staging + "/manifest"
        try await client.downloadBlob(digest: artifact, to: manifestPath)
        let text = String(decoding: fileManager.contents(atPath: manifestPath) ?? Data(), as: UTF8.self)
        let manifest = try TreeManifest.parse(canonicalText: text)
        guard manifest.digest.hex == artifact else {
            throw CLIError("artifact \(artifact) did not verify after download", exitCode: ExitStatus.unavailable)
        }
        let store = try BlobStore(root: staging + "/blobs")
        for entry in manifest.entries {
            guard let digest = entry.digest, !store.contains(digest) else { continue }
            let path = staging + "/blob"
            try await client.downloadBlob(digest: digest.hex, to: path)
            let (stored, _) = try store.importFile(at: path)
            guard stored == digest else { throw CLIError("blob \(digest.hex) did not verify after download", exitCode: ExitStatus.unavailable) }
        }
        try fileManager.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? fileManager.removeItem(atPath: destination)
        try Snapshot.materialize(manifest, from: store, at: destination, linking: false)
    }
}
