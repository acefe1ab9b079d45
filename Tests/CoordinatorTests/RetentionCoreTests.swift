import Artifacts
@testable import Coordinator
import Protocol
import Testing

private func digest(_ seed: String) -> Digest { SHA256Hasher.digest(of: Array(seed.utf8)) }

private func run(_ id: String, pipeline: String = "p", status: RunStatus = .completed, ended: Int64?, created: Int64 = 0) -> RetentionSelection.Run {
    RetentionSelection.Run(id: id, pipeline: pipeline, status: status, createdAt: created, finishedAt: ended)
}

/// Which runs a prune takes.
@Suite struct RetentionSelectionTests {
    @Test func takesRunsThatEndedBeforeTheCutoffOldestFirst() {
        let runs = [run("new", ended: 100), run("old", ended: 10), run("edge", ended: 50), run("older", ended: 5)]
        #expect(RetentionSelection(endedBefore: 50).runsToPrune(runs) == ["older", "old"])
    }

    @Test(arguments: [RunStatus.queued, .running])
    func neverTakesARunStillGoing(status: RunStatus) {
        let runs = [run("going", status: status, ended: nil, created: 1), run("done", status: .failed, ended: 2)]
        #expect(RetentionSelection(endedBefore: 1_000).runsToPrune(runs) == ["done"])
    }

    @Test func aCanceledRunWithoutAnEndCountsFromItsCreation() {
        #expect(RetentionSelection(endedBefore: 10).runsToPrune([run("c", status: .canceled, ended: nil, created: 5)]) == ["c"])
        #expect(RetentionSelection(endedBefore: 5).runsToPrune([run("c", status: .canceled, ended: nil, created: 5)]).isEmpty)
    }

    @Test func keepsTheNewestEndedRunsOfEachPipeline() {
        let runs = [
            run("a1", pipeline: "a", ended: 1), run("a2", pipeline: "a", ended: 2), run("a3", pipeline: "a", ended: 3),
            run("b1", pipeline: "b", ended: 4), run("a-going", pipeline: "a", status: .running, ended: nil, created: 5),
        ]
        #expect(RetentionSelection(endedBefore: 100, keepLast: 2).runsToPrune(runs) == ["a1"])
        #expect(RetentionSelection(endedBefore: 100, keepLast: 0).runsToPrune(runs) == ["a1", "a2", "a3", "b1"])
    }
}

/// The reachability walk over digests and manifests, with manifests held in a dictionary.
@Suite struct BlobReachabilityTests {
    @Test func aManifestRootBringsItsFilesAndNothingElse() {
        let (manifest, fileA, fileB, stray) = (digest("m"), digest("a"), digest("b"), digest("stray"))
        let manifests = [manifest: [fileA, fileB]]
        var walk = BlobReachability()
        walk.add(roots: [manifest], entries: { manifests[$0] })
        #expect(walk.reachable == [manifest, fileA, fileB])
        #expect(!walk.reachable.contains(stray))
    }

    @Test func entriesAreNotFollowedFurther() {
        // A file whose bytes happen to be a manifest is kept, but what it lists is not.
        let (root, inner, deep) = (digest("root"), digest("inner"), digest("deep"))
        let manifests = [root: [inner], inner: [deep]]
        var walk = BlobReachability()
        walk.add(roots: [root], entries: { manifests[$0] })
        #expect(walk.reachable == [root, inner])
    }

    @Test func anEntryIsKeptWholeOnlyWhenEveryFileStays() {
        let (output, shared, own, other) = (digest("out"), digest("shared"), digest("own"), digest("other"))
        let manifests = [output: [shared, own], other: [shared]]
        var walk = BlobReachability()
        walk.add(roots: [other], entries: { manifests[$0] })
        #expect(!walk.keepsWhole(output, entries: { manifests[$0] }))
        walk.add(roots: [output], entries: { manifests[$0] })
        #expect(walk.keepsWhole(output, entries: { manifests[$0] }))
    }

    @Test func readsEveryDigestAJSONColumnNames() {
        let (a, b) = (digest("a"), digest("b"))
        let text = #"{"model":"\#(a.hex)","code":{"src":"\#(b.hex)"},"uri":"azureml://datastores/x"}"#
        #expect(BlobReachability.digests(in: text) == [a, b])
    }

    @Test(arguments: [
        String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "A", count: 64),
        "x" + String(repeating: "0", count: 63),
    ])
    func ignoresWordsThatAreNotDigests(text: String) {
        #expect(BlobReachability.digests(in: text).isEmpty)
    }
}
