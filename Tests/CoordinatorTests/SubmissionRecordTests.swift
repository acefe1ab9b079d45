import Foundation
import Protocol
import Testing
@testable import Coordinator

/// The request stored with a run is written by hand; it must read back as the same request.
@Suite struct SubmissionRecordTests {
    @Test func theStoredRequestReadsBack() throws {
        let request = SubmitRequest(
            planJSON: #"{"name":"p \"q\" \\ \n","steps":[]}"# + "\u{1}\u{7F}é",
            localInputs: ["step\u{1F}data": "ab", "other\u{1F}x": "cd"],
            code: ["train": "ef"], force: ["train", "say \"hi\""]
        )
        let text = request.json
        let decoded = try JSONDecoder().decode(SubmitRequest.self, from: Data(text.utf8))
        #expect(decoded.planJSON == request.planJSON)
        #expect(decoded.localInputs == request.localInputs)
        #expect(decoded.code == request.code)
        #expect(decoded.force == request.force)
    }
}

@Suite struct RunIDTests {
    @Test func runIDsNameTheUTCSecondAndAreUnique() {
        // 2026-11-22 10:15:01 UTC
        let id = CoordinatorService.newRunID(now: 1_795_342_501)
        #expect(id.hasPrefix("run-20261122-101501-"), "\(id)")
        #expect(id.count == "run-20261122-101501-".count + 8)
        #expect(CoordinatorService.newRunID() != CoordinatorService.newRunID())
    }
}
