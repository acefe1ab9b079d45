import Artifacts
import Foundation
import Logging
import Protocol
import Store

extension CoordinatorService {
    // MARK: Retention

    /// Deletes the runs that ended before `request.endedBefore` (keeping each pipeline's newest
    /// `keepLast`), then the blobs nothing that stays refers to; with `dryRun`, only says so.
    ///
    /// What stays refers to blobs through: the remaining runs' submissions, steps (outputs and cache
    /// manifests) and attempts (MLflow stores), the runs in progress, the cache entries of the
    /// remaining runs, the data assets runs registered, and `request.keep` (the client's registered
    /// data assets). A cache entry of a
    /// deleted run stays when every blob it names stays (a later hit still verifies them), and goes
    /// otherwise. Blobs stored at or after the cutoff stay (an upload may be on its way to a
    /// submission). The rows go in one store transaction, then the log and blob files.
    ///
    /// - Throws: ``CoordinatorError`` `invalidRequest` for a negative `keepLast` or a `keep` entry
    ///   that is not a digest.
    public func prune(_ request: PruneRequest) throws -> PruneReport {
        if let keepLast = request.keepLast, keepLast < 0 {
            throw CoordinatorError(.invalidRequest, "keepLast must be 0 or more, got \(keepLast)")
        }
        var kept = Set<Digest>()
        for text in request.keep {
            guard let digest = Digest(hex: text) else {
                throw CoordinatorError(.invalidRequest, "keep: '\(text)' is not a SHA-256 digest (64 lowercase hex digits)")
            }
            kept.insert(digest)
        }
        makeDurable()
        let snapshot = try store.retentionSnapshot()
        let selection = RetentionSelection(endedBefore: request.endedBefore, keepLast: request.keepLast ?? 0)
        let candidates = snapshot.runs.filter { runs[$0.id] == nil }.map {
            RetentionSelection.Run(id: $0.id, pipeline: $0.pipeline, status: $0.status, createdAt: $0.createdAt, finishedAt: $0.finishedAt)
        }
        let pruned = selection.runsToPrune(candidates)
        let prunedSet = Set(pruned)

        // What stays, and the blobs it reaches.
        var manifests: [Digest: [Digest]?] = [:]
        let entries: (Digest) -> [Digest]? = { digest in
            if let known = manifests[digest] { return known }
            let files = self.manifestFiles(digest)
            manifests[digest] = files
            return files
        }
        var reach = BlobReachability()
        reach.add(roots: kept, entries: entries)
        // The data assets runs registered stay whole, even when the runs that produced them go.
        reach.add(roots: try loadedRegisteredOutputs().byKey.values.compactMap { Digest(hex: $0.digest) }, entries: entries)
        for (runID, texts) in snapshot.referenceTexts where !prunedSet.contains(runID) {
            for text in texts { reach.add(roots: BlobReachability.digests(in: text), entries: entries) }
        }
        for run in runs.values {
            for inputs in run.resolvedInputs.values {
                reach.add(roots: inputs.values.compactMap { Digest(hex: $0) }, entries: entries)
            }
            for step in run.steps.values {
                if let outputs = step.outputsJSON { reach.add(roots: BlobReachability.digests(in: outputs), entries: entries) }
            }
        }
        let liveRuns = Set(snapshot.runs.map(\.id)).subtracting(prunedSet)
        for entry in snapshot.cacheEntries where liveRuns.contains(entry.runID) {
            reach.add(roots: BlobReachability.digests(in: entry.outputsJSON), entries: entries)
        }
        // A deleted run's cache entry stays only with all of its blobs.
        var droppedEntries: [String] = []
        var keptEntries = 0
        for entry in snapshot.cacheEntries where !liveRuns.contains(entry.runID) {
            let named = BlobReachability.digests(in: entry.outputsJSON)
            if named.allSatisfy({ reach.keepsWhole($0, entries: entries) }) {
                keptEntries += 1
            } else {
                droppedEntries.append(entry.key)
            }
        }

        var report = PruneReport(dryRun: request.dryRun, endedBefore: request.endedBefore, runs: pruned)
        var logFiles: [String] = []
        for runID in pruned {
            for attemptID in snapshot.attemptIDs[runID] ?? [] {
                report.attempts += 1
                let path = logPath(attemptID: attemptID)
                if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber {
                    report.logBytes += size.int64Value
                    logFiles.append(path)
                }
            }
            report.metricPoints += snapshot.metricPoints[runID] ?? 0
        }
        report.cacheEntries = droppedEntries.count
        report.cacheEntriesKept = keptEntries
        var doomed: [(digest: Digest, size: Int64)] = []
        for blob in blobs.allBlobs() where !reach.reachable.contains(blob.digest) {
            guard let storedAt = blobs.storedAt(blob.digest), storedAt < request.endedBefore else { continue }
            doomed.append(blob)
        }
        report.blobs = doomed.count
        report.blobBytes = doomed.reduce(0) { $0 + $1.size }
        if request.dryRun { return report }

        try store.prune(runIDs: pruned, cacheKeys: droppedEntries, artifactDigests: doomed.map(\.digest.hex))
        for runID in pruned {
            recentRuns[runID] = nil
        }
        recentRunOrder.removeAll { prunedSet.contains($0) }
        for key in droppedEntries { recentCacheEntries[key] = nil }
        for path in logFiles { try? FileManager.default.removeItem(atPath: path) }
        for blob in doomed {
            blobs.remove(blob.digest)
            manifestCache[blob.digest] = nil
            artifactSizes[blob.digest.hex] = nil
        }
        version += 1
        logger.info(
            "pruned \(pruned.count) runs, \(report.attempts) attempts, \(report.blobs) blobs (\(report.blobBytes) bytes)",
            metadata: ["endedBefore": "\(request.endedBefore)"])
        return report
    }

    /// The file digests of a stored manifest; nil when `digest` is not stored or is not a manifest.
    /// Reads a blob's first bytes before parsing it, so a large file is never read whole.
    func manifestFiles(_ digest: Digest) -> [Digest]? {
        if let cached = manifestCache[digest] { return cached.entries.compactMap(\.digest) }
        let tag = Array((TreeManifest.formatTag + " ").utf8)
        guard let head = try? blobs.read(digest, offset: 0, count: tag.count), head == tag else { return nil }
        guard let manifest = try? loadManifest(digest) else { return nil }
        return manifest.entries.compactMap(\.digest)
    }
}
