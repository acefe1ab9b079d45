import Foundation
import Protocol
import Testing

/// The protocol fuzzer's corpus (`Tests/Fuzz/Corpus/protocol`), replayed as ordinary tests: every input
/// decodes to a message or throws `ProtocolError`, and a decoded message survives an encode/decode round
/// trip, exactly as the fuzz target checks.
@Suite struct ProtocolFuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/protocol").path

    static func files() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test func corpusHasValidAndInvalidInputs() {
        let names = Self.files()
        #expect(names.filter { $0.hasPrefix("valid-") }.count >= MessageCode.all.count)
        #expect(names.filter { !$0.hasPrefix("valid-") }.count >= 10)
    }

    @Test(arguments: files())
    func replay(_ name: String) throws {
        let bytes = try #require(FileManager.default.contents(atPath: Self.corpus + "/" + name))
        let frames = LengthPrefixedFrames.split(Array(bytes))
        let result = Result { () throws(ProtocolError) in try MessageCodec.decode(frames) }
        switch result {
        case .success(let message):
            let again = MessageCodec.encode(message)
            let decoded = try MessageCodec.decode(again)
            #expect(MessageCodec.encode(decoded) == again)
            if name.hasPrefix("valid-") { #expect(again == frames) }
        case .failure(let error):
            #expect(!name.hasPrefix("valid-"), "\(name): \(error)")
        }
    }

    @Test func framesSplitAndJoin() {
        let frames: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 7, count: 300)]
        #expect(LengthPrefixedFrames.split(LengthPrefixedFrames.join(frames)) == frames)
        #expect(LengthPrefixedFrames.split([]) == [])
        #expect(LengthPrefixedFrames.split([5]) == [])
        #expect(LengthPrefixedFrames.split([10, 0, 1, 2]) == [[1, 2]])  // a length past the end takes the rest
    }

    /// Writes the valid seeds (one per message code) when `CONDUIT_WRITE_FUZZ_SEEDS=1`; see docs/fuzzing.md.
    @Test func writeSeedsWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["CONDUIT_WRITE_FUZZ_SEEDS"] == "1" else { return }
        for message in sampleMessages {
            let name = "valid-\(message.payload.code.rawValue)-\(message.payload.code)"
            let bytes = LengthPrefixedFrames.join(MessageCodec.encode(message))
            try Data(bytes).write(to: URL(fileURLWithPath: Self.corpus + "/" + name))
        }
    }
}
