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
        let text = CoordinatorService.submissionJSON(request)
        let decoded = try JSONDecoder().decode(SubmitRequest.self, from: Data(text.utf8))
        #expect(decoded.planJSON == request.planJSON)
        #expect(decoded.localInputs == request.localInputs)
        #expect(decoded.code == request.code)
        #expect(decoded.force == request.force)
    }
}
