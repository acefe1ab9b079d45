import Artifacts
import Foundation
import Protocol
import TestKit
import Testing
import Transport
import Worker

/// The step's working directory is its own: Conduit's outputs sit outside it, and what the step
/// leaves in `./outputs` and `./logs` is its default artifacts.
extension WorkerCacheTests {
    /// The text of each file of the artifact `hex` in the worker's cache, by path.
    static func files(of hex: String?, in store: BlobStore) throws -> [String: String] {
        let manifest = try store.manifest(try #require(hex.flatMap(Digest.init(hex:))))
        var files: [String: String] = [:]
        for entry in manifest.files {
            files[entry.path] = String(decoding: try store.readAll(try #require(entry.digest)), as: UTF8.self)
        }
        return files
    }

    @Test func aStepWritingOutputsXLeavesItsDeclaredOutputXAlone() async throws {
        try await withWorker(slots: 1, cacheLimit: 1 << 30) { harness in
            let store = try BlobStore(root: harness.directory + "/cache")
            harness.network.coordinator.send(dispatch("a", [
                .text("echo declared > "), .outputPath("x"), .text("/declared.txt && mkdir -p outputs/x && echo stray > outputs/x/stray.txt"),
            ], outputs: [DispatchOutput(name: "x", kind: .folder)]), to: harness.peer)
            let (report, _) = await serve(&harness, until: "a")
            #expect(report?.outcome == .succeeded, "\(report?.message ?? "")")
            #expect(try Self.files(of: report?.outputs["x"], in: store) == ["declared.txt": "declared\n"])
        }
    }

    @Test func theDefaultArtifactsHoldOutputsAndLogsAsTheStepLeftThem() async throws {
        try await withWorker(slots: 1, cacheLimit: 1 << 30) { harness in
            let store = try BlobStore(root: harness.directory + "/cache")
            let artifacts = DispatchOutput(name: "artifacts", kind: .folder, isDefaultArtifacts: true)
            harness.network.coordinator.send(dispatch("a", [
                .text("echo world > ./outputs/world.txt && echo note > logs/run.log && echo declared > "),
                .outputPath("model"), .text("/m.txt"),
            ], outputs: [DispatchOutput(name: "model", kind: .folder), artifacts]), to: harness.peer)
            let (report, _) = await serve(&harness, until: "a")
            #expect(report?.outcome == .succeeded, "\(report?.message ?? "")")
            #expect(try Self.files(of: report?.outputs["artifacts"], in: store) == ["outputs/world.txt": "world\n", "logs/run.log": "note\n"])
            #expect(try Self.files(of: report?.outputs["model"], in: store) == ["m.txt": "declared\n"])

            // A step that writes neither: both folders, empty.
            harness.network.coordinator.send(dispatch("b", [.text("true")], outputs: [artifacts]), to: harness.peer)
            let (empty, _) = await serve(&harness, until: "b")
            #expect(empty?.outcome == .succeeded, "\(empty?.message ?? "")")
            let manifest = try store.manifest(try #require(empty?.outputs["artifacts"].flatMap(Digest.init(hex:))))
            #expect(manifest.entries.map(\.path) == ["logs", "outputs"])
        }
    }

    @Test func aLinkInTheDefaultArtifactsFailsTheAttempt() async throws {
        try await withWorker(slots: 1, cacheLimit: 1 << 30) { harness in
            harness.network.coordinator.send(dispatch("a", [.text("ln -s \(harness.directory) outputs/escape")], outputs: [
                DispatchOutput(name: "artifacts", kind: .folder, isDefaultArtifacts: true),
            ]), to: harness.peer)
            let (report, _) = await serve(&harness, until: "a")
            #expect(report?.outcome == .failed)
            #expect(report?.message?.contains("output artifacts cannot be stored") == true, "\(report?.message ?? "")")
        }
    }
}
