/// Chooses the earlier execution of a step that a new execution is compared with, for `explain`
/// and the dry run.
///
/// The nearest execution is the one whose manifest differs from the new one in the fewest fields
/// (`CacheManifest.differences(from:)`, one per changed parameter, code file, input and so on).
/// Ties go to the latest. The latest execution alone would be wrong after a run of an edited copy
/// of a pipeline: the original, with only a parameter changed, would be explained by the copy's
/// code edits.
///
/// Pure: the candidates come in, latest first; the shell bounds how many it reads
/// (`candidateLimit`).
public enum NearestExecution {
    /// How many earlier executions of a step the shells read from the store, latest first. An
    /// execution older than these is never chosen.
    public static let candidateLimit = 200

    /// An earlier execution: the run it belongs to and the manifest it recorded.
    public struct Candidate: Hashable, Sendable {
        public var run: String
        public var manifest: CacheManifest

        public init(run: String, manifest: CacheManifest) {
            self.run = run
            self.manifest = manifest
        }
    }

    /// The chosen execution and what differs from it.
    public struct Choice: Hashable, Sendable {
        public var run: String
        public var manifest: CacheManifest
        /// `manifest`'s differences, as `CacheManifest.differences(from:)` words them.
        public var differences: [String]
    }

    /// The candidate nearest to `manifest`, or nil when there is none.
    ///
    /// `candidates` must be ordered latest first: among those with the fewest differences the
    /// first one wins. Inputs named in `unknownInputs` (outputs of upstream steps that have not
    /// run yet) are not compared: each candidate is measured as if they held its own values.
    public static func choose(
        for manifest: CacheManifest, among candidates: [Candidate], unknownInputs: Set<String> = []
    ) -> Choice? {
        var best: Choice?
        for candidate in candidates {
            var compared = manifest
            for name in unknownInputs { compared.inputs[name] = candidate.manifest.inputs[name] ?? compared.inputs[name] }
            let differences = compared.differences(from: candidate.manifest)
            if let best, best.differences.count <= differences.count { continue }
            best = Choice(run: candidate.run, manifest: candidate.manifest, differences: differences)
            if differences.isEmpty { break }
        }
        return best
    }
}
