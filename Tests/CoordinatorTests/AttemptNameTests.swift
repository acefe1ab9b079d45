import Coordinator
import Testing

/// Attempt ids: one per attempt, so each attempt's log has its own file.
@Suite struct AttemptNameTests {
    @Test func aNameReadsBackWithARunIDThatHoldsDashes() throws {
        let name = AttemptName(runID: "run-20261207-163001-5d1c0a2e", position: 4, number: 2)
        #expect(name.text == "run-20261207-163001-5d1c0a2e-4-2")
        #expect(AttemptName(parsing: name.text) == name)
    }

    @Test func eachAttemptOfAStepHasItsOwnName() {
        let names = (1...5).map { AttemptName(runID: "run-1", position: 0, number: $0).text }
        #expect(Set(names).count == 5)
    }

    @Test(arguments: ["", "run", "run-1", "run-x-2", "run-1-x", "run-1-0", "-1-1", "run-1-2-"])
    func textThatIsNoAttemptNameIsNotRead(_ text: String) {
        #expect(AttemptName(parsing: text) == nil, "\(text)")
    }
}
