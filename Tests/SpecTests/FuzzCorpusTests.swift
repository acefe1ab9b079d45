import Foundation
import Testing
@testable import Spec

/// The pipeline fuzzer's corpus (`Tests/Fuzz/Corpus/pipeline`), replayed as ordinary tests through the same
/// entry the fuzz target uses: `valid-*` files load, every other file is refused with a `SpecError` that
/// names the file, and nothing traps.
struct PipelineFuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/pipeline").path

    /// Where the fuzz target pretends its input lives: a directory that does not exist.
    static let pretendFile = "/nonexistent-conduit-fuzz/pipeline.yml"

    static func files() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test func corpusHasValidAndInvalidInputs() {
        let names = Self.files()
        #expect(names.filter { $0.hasPrefix("valid-") }.count >= 5)
        #expect(names.filter { !$0.hasPrefix("valid-") }.count >= 20)
    }

    @Test(arguments: files())
    func replay(_ name: String) throws {
        let bytes = try #require(FileManager.default.contents(atPath: Self.corpus + "/" + name))
        // The fuzz target skips inputs that are not UTF-8; so does the replay.
        guard let text = String(data: bytes, encoding: .utf8) else { return }
        do throws(SpecError) {
            let plan = try PipelineLoader.load(text: text, file: Self.pretendFile)
            #expect(!name.hasPrefix("invalid-"), "\(name) loaded, but invalid-* inputs must be refused")
            #expect(!plan.steps.isEmpty)
        } catch {
            #expect(!name.hasPrefix("valid-"), "\(name): \(error)")
            #expect(!error.file.isEmpty)
            if name.hasPrefix("invalid-") {
                // The hand-written refusals name the pretend file (or the file they point at) and stay short.
                #expect(error.file.hasPrefix("/nonexistent-conduit-fuzz/") || error.file.hasPrefix("/etc"), "\(error)")
                #expect(error.description.count < 1000, "\(name): the message is \(error.description.count) characters")
            }
        }
    }

    @Test func loadingTextMatchesLoadingTheFile() throws {
        let text = try String(contentsOfFile: Self.corpus + "/valid-bindings.yml", encoding: .utf8)
        let fixture = try Fixture(["pipeline.yml": text])
        let fromFile = try fixture.load()
        let fromText = try PipelineLoader.load(text: text, file: fixture.path("pipeline.yml"))
        #expect(PlanJSON.encode(fromFile) == PlanJSON.encode(fromText))
    }
}
