import Protocol
import Testing

/// `--older-than` ages.
@Suite struct RetentionAgeTests {
    @Test(arguments: [("30d", 30 * 86_400_000), ("12h", 12 * 3_600_000), ("90m", 90 * 60_000), ("1m", 60_000)] as [(String, Int64)])
    func readsDaysHoursAndMinutes(text: String, milliseconds: Int64) throws {
        #expect(try RetentionAge(parsing: text).milliseconds == milliseconds)
    }

    @Test(arguments: [
        ("", "an empty age"), ("30", "'30' has no unit"), ("30s", "'30s' has an unknown unit"), ("2w", "unknown unit"),
        ("1.5d", "not a whole number"), ("-3d", "not a whole number"), ("d", "not a whole number"), ("0h", "more than zero"),
        ("99999999d", "more than 100 years"), (" 3d", "not a whole number"),
    ] as [(String, String)])
    func refusesWhatIsNotAnAge(text: String, problem: String) {
        let error = #expect(throws: RetentionAge.ParseError.self) { try RetentionAge(parsing: text) }
        let message = error?.message ?? ""
        #expect(message.contains(problem), "\(message)")
        #expect(message.contains("expected an age such as 30d, 12h or 90m"), "\(message)")
    }
}
