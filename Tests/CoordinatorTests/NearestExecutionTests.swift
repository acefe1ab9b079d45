@testable import Coordinator
import Testing

/// The manifest a run of `train` records: a learning rate, a seed, two code files and one input.
private func manifest(lr: String = "0.1", seed: String = "1", trainCode: String = "t1", utilCode: String = "u1", data: String = "d1") -> CacheManifest {
    CacheManifest(
        command: "python train.py", parameters: ["lr": lr, "seed": seed],
        code: CacheManifest.Code(digest: trainCode + utilCode, files: ["train.py": trainCode, "util.py": utilCode]),
        environment: "env", inputs: ["data": CacheManifest.Input(type: "uri_folder", digest: data)], outputs: ["model": "uri_folder"]
    )
}

/// The five ways a candidate may differ from the new execution, each one field.
private let changes: [@Sendable (CacheManifest) -> CacheManifest] = [
    { var m = $0; m.parameters["lr"] = "0.5"; return m },
    { var m = $0; m.parameters["seed"] = "7"; return m },
    { var m = $0; m.code = CacheManifest.Code(digest: "t2u1", files: ["train.py": "t2", "util.py": "u1"]); return m },
    { var m = $0; m.inputs["data"] = CacheManifest.Input(type: "uri_folder", digest: "d2"); return m },
    { var m = $0; m.command = "python train.py --fast"; return m },
]

/// The candidate built from `mask`: bit i set applies `changes[i]`.
private func candidate(_ mask: Int, run: String) -> NearestExecution.Candidate {
    var built = manifest()
    for (index, change) in changes.enumerated() where mask & (1 << index) != 0 { built = change(built) }
    return NearestExecution.Candidate(run: run, manifest: built)
}

@Suite struct NearestExecutionTests {
    /// Every history of up to three earlier executions drawn from all 32 variants (33,825
    /// histories): the choice has the fewest differences, and is the latest of those that tie.
    @Test func everyHistoryOfUpToThreeExecutionsChoosesTheFewestDifferencesLatestFirst() {
        let current = manifest()
        var histories: [[Int]] = [[]]
        for length in 1...3 {
            var next: [[Int]] = []
            for history in histories where history.count == length - 1 {
                for mask in 0..<(1 << changes.count) { next.append(history + [mask]) }
            }
            histories += next
        }
        for history in histories {
            let candidates = history.enumerated().map { candidate($1, run: "r\($0)") }
            let chosen = NearestExecution.choose(for: current, among: candidates)
            guard let fewest = history.map(\.nonzeroBitCount).min() else {
                #expect(chosen == nil)
                continue
            }
            let expected = history.firstIndex { $0.nonzeroBitCount == fewest }!
            #expect(chosen?.run == "r\(expected)", "history \(history)")
            #expect(chosen?.differences == current.differences(from: candidates[expected].manifest))
            #expect(chosen?.differences.count == fewest)
        }
    }

    /// The case that motivated it: the latest run is of an edited copy (code changed); the
    /// original run differs only in the parameter just set.
    @Test func anEditedCopysLaterRunDoesNotHideTheOriginal() throws {
        let original = NearestExecution.Candidate(run: "original", manifest: manifest(lr: "0.1"))
        let copy = NearestExecution.Candidate(run: "copy", manifest: manifest(lr: "0.1", trainCode: "t2"))
        let chosen = try #require(NearestExecution.choose(for: manifest(lr: "0.3"), among: [copy, original]))
        #expect(chosen.run == "original")
        #expect(chosen.differences == ["parameter lr: 0.1 → 0.3"])
    }

    /// A difference counts once per code file: two edited files are farther than one parameter.
    @Test func eachChangedCodeFileCountsAsAField() throws {
        let twoFiles = NearestExecution.Candidate(run: "two-files", manifest: manifest(trainCode: "t2", utilCode: "u2"))
        let parameter = NearestExecution.Candidate(run: "parameter", manifest: manifest(lr: "0.9"))
        #expect(NearestExecution.choose(for: manifest(), among: [twoFiles, parameter])?.run == "parameter")
    }

    /// Inputs not known yet (their producer runs first) are not held against any candidate.
    @Test func unknownInputsAreNotCompared() throws {
        let otherData = NearestExecution.Candidate(run: "other-data", manifest: manifest(data: "d9"))
        let otherSeed = NearestExecution.Candidate(run: "other-seed", manifest: manifest(seed: "5"))
        var current = manifest()
        current.inputs["data"] = nil
        let chosen = try #require(NearestExecution.choose(for: current, among: [otherSeed, otherData], unknownInputs: ["data"]))
        #expect(chosen.run == "other-data")
        #expect(chosen.differences.isEmpty)
    }
}
