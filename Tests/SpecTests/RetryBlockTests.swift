import Foundation
import Spec
import Testing

/// `retry:` on a command step, a Conduit extension.
@Suite struct RetryBlockTests {
    @Test func aRetryBlockIsReadIntoThePlanAndItsJSON() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              flaky:
                command: ./fetch.sh
                retry: {attempts: 3, backoff: 1.5, backoff_factor: 3}
              steady: {command: echo}
            """)
        #expect(plan.step("flaky")?.retry == RetrySettings(attempts: 3, backoffMilliseconds: 1500, factor: 3))
        #expect(plan.step("steady")?.retry == nil)
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
        #expect(decoded == plan, "the plan's JSON carries the retry block")
        #expect(try Fixture.load("type: pipeline\njobs:\n  a:\n    command: echo\n    retry: {attempts: 2}\n").steps[0].retry
            == RetrySettings(attempts: 2, backoffMilliseconds: 10_000, factor: 2))
    }

    @Test(arguments: [
        ("{backoff: 5}", SpecError.Code.missingField, "needs attempts"),
        ("{attempts: 0}", .outOfRange, "between 1 and 100"),
        ("{attempts: 2, backoff: -1}", .outOfRange, "retry.backoff"),
        ("{attempts: 2, backoff: soon}", .invalidType, "must be a number"),
        ("{attempts: 2, tries: 3}", .unknownField, "unknown key 'tries'"),
        ("{attempts: 2, backoff_factor: 20}", .outOfRange, "backoff_factor"),
        ("{attempts: 2, backoff: 1.0e+999}", .outOfRange, "retry.backoff"),
    ])
    func badRetryBlocksAreRefusedWithTheField(_ block: String, _ code: SpecError.Code, _ words: String) throws {
        let error = try #require(try Fixture.error("type: pipeline\njobs:\n  a:\n    command: echo\n    retry: \(block)\n"))
        #expect(error.code == code, "\(error)")
        #expect(error.description.contains(words), "\(error)")
        #expect(error.line == 5, "\(error)")
    }
}
