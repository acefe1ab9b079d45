import Coordinator
import Testing

/// `conduit runs --filter/--sort`: the grammar, its errors, and which runs pass in what order.
@Suite struct RunQueryTests {
    static func run(_ accuracy: Double?, optimizer: String? = nil, created: Int64, status: String = "completed", pipeline: String = "train") -> RunQuery.Candidate {
        RunQuery.Candidate(
            metrics: accuracy.map { ["accuracy": $0] } ?? [:], params: optimizer.map { ["optimizer": $0] } ?? [:],
            status: status, pipeline: pipeline, createdAt: created
        )
    }

    @Test func clausesJoinedByAndMustAllHold() throws {
        let query = try RunQuery(filter: "metrics.accuracy >= 0.9 and params.optimizer = 'adam' AND status != \"failed\"")
        #expect(query.clauses.count == 3)
        #expect(query.matches(Self.run(0.95, optimizer: "adam", created: 1)))
        #expect(!query.matches(Self.run(0.85, optimizer: "adam", created: 1)))
        #expect(!query.matches(Self.run(0.95, optimizer: "sgd", created: 1)))
        #expect(!query.matches(Self.run(nil, optimizer: "adam", created: 1)), "a run without the metric does not match")
        #expect(!query.matches(Self.run(0.95, optimizer: "adam", created: 1, status: "failed")))
        for (filter, value, expected) in [("metrics.accuracy < 0.5", 0.4, true), ("metrics.accuracy<=0.4", 0.4, true), ("metrics.accuracy>0.4", 0.4, false),
                                          ("metrics.accuracy = 0.4", 0.4, true), ("metrics.accuracy != 0.4", 0.4, false)] {
            #expect(try RunQuery(filter: filter).matches(Self.run(value, created: 1)) == expected, "\(filter)")
        }
    }

    @Test func sortingByAMetricPutsRunsWithoutItLast() throws {
        let runs = [Self.run(0.7, created: 1), Self.run(nil, created: 5), Self.run(0.9, created: 2), Self.run(0.7, created: 3)]
        let best = try RunQuery(sort: "-metrics.accuracy")
        #expect(runs.sorted(by: best.precedes).map(\.createdAt) == [2, 3, 1, 5], "ties: newest first")
        let worst = try RunQuery(sort: "metrics.accuracy")
        #expect(runs.sorted(by: worst.precedes).map(\.createdAt) == [3, 1, 2, 5])
        #expect(runs.sorted(by: try RunQuery(sort: "created").precedes).map(\.createdAt) == [1, 2, 3, 5])
        #expect(runs.sorted(by: try RunQuery().precedes).map(\.createdAt) == [5, 3, 2, 1], "newest first by default")
    }

    @Test func badInputIsNamedPrecisely() {
        let cases: [(filter: String?, sort: String?, message: String)] = [
            ("metrics.accuracy > high", nil, "metrics.accuracy is compared with a number, got 'high'"),
            ("metrics.accuracy > 'high'", nil, "compared with a number, got the text 'high'"),
            ("params.optimizer = adam", nil, "params.optimizer is compared with a quoted text, as in params.optimizer = 'adam'"),
            ("params.optimizer > 'adam'", nil, "params.optimizer is text: compare it with = or !="),
            ("metrics.accuracy >", nil, "incomplete filter"),
            ("metrics.accuracy > 1 or metrics.loss < 1", nil, "clauses are joined by 'and'"),
            ("accuracy > 1", nil, "unknown field 'accuracy'"),
            ("metrics.acc$ > 1", nil, "a metrics.NAME needs a name of letters, digits"),
            ("params.x = 'open", nil, "unterminated quote"),
            ("metrics.accuracy ~ 1", nil, "expected one of < <= > >= = != after metrics.accuracy"),
            (nil, "params.optimizer", "cannot sort by params.optimizer: params are text"),
            (nil, "-status", "cannot sort by status"),
            (nil, "-accuracy", "unknown field 'accuracy'"),
        ]
        for (filter, sort, message) in cases {
            do {
                _ = try RunQuery(filter: filter, sort: sort)
                Issue.record("accepted \(filter ?? "") \(sort ?? "")")
            } catch {
                #expect(error.message.contains(message), "\(filter ?? sort ?? ""): \(error.message)")
            }
        }
    }
}
