/// Which runs `conduit runs` lists, in what order: `--filter "metrics.accuracy > 0.9 and
/// params.optimizer = 'adam'"` and `--sort -metrics.accuracy`, in the spirit of MLflow's run search.
///
/// Pure: parsed from the caller's text (data, never code: only the grammar below is accepted) and
/// evaluated on the values each run recorded.
///
/// Grammar: a filter is clauses joined by `and`; a clause is `metrics.NAME OP NUMBER` (OP one of
/// `<`, `<=`, `>`, `>=`, `=`, `!=`), `params.NAME = 'TEXT'` or `params.NAME != 'TEXT'`, or
/// `status = 'completed'` / `pipeline = 'NAME'` (also with `!=`). NAME may hold letters, digits and
/// `_ - . / :`; TEXT is in single or double quotes. A sort is `[-]metrics.NAME`, `[-]created` or
/// `[-]pipeline`; a leading `-` sorts descending. Runs without the sorted metric come last.
public struct RunQuery: Hashable, Sendable {
    public enum Field: Hashable, Sendable {
        case metric(String)
        case param(String)
        case status
        case pipeline
        case created
    }

    public enum Comparison: String, Hashable, Sendable, CaseIterable {
        case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=", equal = "=", notEqual = "!="
    }

    public enum Value: Hashable, Sendable {
        case number(Double)
        case text(String)
    }

    public struct Clause: Hashable, Sendable {
        public var field: Field
        public var comparison: Comparison
        public var value: Value
    }

    /// What a run recorded, as the query sees it.
    public struct Candidate: Sendable {
        public var metrics: [String: Double]
        public var params: [String: String]
        public var status: String
        public var pipeline: String
        public var createdAt: Int64

        public init(metrics: [String: Double], params: [String: String], status: String, pipeline: String, createdAt: Int64) {
            self.metrics = metrics
            self.params = params
            self.status = status
            self.pipeline = pipeline
            self.createdAt = createdAt
        }
    }

    public var clauses: [Clause] = []
    public var sortField: Field = .created
    public var descending = true

    public init(filter: String? = nil, sort: String? = nil) throws(RunQueryError) {
        if let filter, !filter.trimmingCharacters(in: .whitespaces).isEmpty { clauses = try Self.parseFilter(filter) }
        if let sort { try parseSort(sort) }
    }

    /// Whether the candidate passes every clause (a clause on a value it lacks fails).
    public func matches(_ run: Candidate) -> Bool {
        clauses.allSatisfy { clause in
            switch (clause.field, clause.value) {
            case (.metric(let name), .number(let target)):
                guard let value = run.metrics[name] else { return false }
                return Self.compare(value, clause.comparison, target)
            case (.param(let name), .text(let target)):
                guard let value = run.params[name] else { return false }
                return clause.comparison == .equal ? value == target : value != target
            case (.status, .text(let target)):
                return clause.comparison == .equal ? run.status == target : run.status != target
            case (.pipeline, .text(let target)):
                return clause.comparison == .equal ? run.pipeline == target : run.pipeline != target
            default:
                return false
            }
        }
    }

    /// Whether `a` comes before `b` in the sort (ties keep the newest first).
    public func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        switch sortField {
        case .metric(let name):
            switch (a.metrics[name], b.metrics[name]) {
            case (let x?, let y?) where x != y: return descending ? x > y : x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.createdAt > b.createdAt
            }
        case .pipeline:
            if a.pipeline != b.pipeline { return descending ? a.pipeline > b.pipeline : a.pipeline < b.pipeline }
            return a.createdAt > b.createdAt
        default:
            return descending ? a.createdAt > b.createdAt : a.createdAt < b.createdAt
        }
    }

    static func compare(_ value: Double, _ comparison: Comparison, _ target: Double) -> Bool {
        switch comparison {
        case .less: value < target
        case .lessOrEqual: value <= target
        case .greater: value > target
        case .greaterOrEqual: value >= target
        case .equal: value == target
        case .notEqual: value != target
        }
    }

    // MARK: Parsing

    private mutating func parseSort(_ text: String) throws(RunQueryError) {
        var key = text.trimmingCharacters(in: .whitespaces)
        descending = key.hasPrefix("-")
        if descending || key.hasPrefix("+") { key.removeFirst() }
        switch try Self.field(key, in: text) {
        case .param:
            throw RunQueryError("cannot sort by \(key): params are text; sort by metrics.NAME, created or pipeline (numeric params are metrics too, as metrics.params.NAME)")
        case .status:
            throw RunQueryError("cannot sort by status; sort by metrics.NAME, created or pipeline")
        case let field:
            sortField = field
        }
    }

    static func field(_ key: String, in text: String) throws(RunQueryError) -> Field {
        if key == "status" { return .status }
        if key == "pipeline" { return .pipeline }
        if key == "created" { return .created }
        for (prefix, make) in [("metrics.", Field.metric), ("params.", Field.param)] where key.hasPrefix(prefix) {
            let name = String(key.dropFirst(prefix.count))
            guard !name.isEmpty, name.utf8.count <= 250, name.allSatisfy(isNameCharacter) else {
                throw RunQueryError("'\(key)' in '\(text)': a \(prefix)NAME needs a name of letters, digits and _ - . / :")
            }
            return make(name)
        }
        throw RunQueryError("unknown field '\(key)' in '\(text)': expected metrics.NAME, params.NAME, status, pipeline or created")
    }

    static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || "_-./:".contains(character)
    }

    static func parseFilter(_ text: String) throws(RunQueryError) -> [Clause] {
        var tokens = try tokenize(text)
        var clauses: [Clause] = []
        while true {
            guard tokens.count >= 3 else {
                throw RunQueryError("incomplete filter '\(text)': each clause is FIELD OP VALUE, as in metrics.accuracy > 0.9")
            }
            let key = tokens.removeFirst(), operatorText = tokens.removeFirst(), valueToken = tokens.removeFirst()
            guard case .word(let fieldName) = key else { throw RunQueryError("expected a field in '\(text)', found a quoted text") }
            guard case .word(let symbol) = operatorText, let comparison = Comparison(rawValue: symbol) else {
                throw RunQueryError("expected one of < <= > >= = != after \(fieldName) in '\(text)'")
            }
            let field = try field(fieldName, in: text)
            let value: Value
            switch (field, valueToken) {
            case (.metric, .word(let number)):
                guard let parsed = Double(number), parsed.isFinite else {
                    throw RunQueryError("\(fieldName) is compared with a number, got '\(number)' in '\(text)'")
                }
                value = .number(parsed)
            case (.metric, .quoted(let quoted)):
                throw RunQueryError("\(fieldName) is compared with a number, got the text '\(quoted)' in '\(text)'")
            case (_, .quoted(let quoted)):
                guard comparison == .equal || comparison == .notEqual else {
                    throw RunQueryError("\(fieldName) is text: compare it with = or !=, in '\(text)'")
                }
                value = .text(quoted)
            case (_, .word(let word)):
                throw RunQueryError("\(fieldName) is compared with a quoted text, as in \(fieldName) = '\(word)', in '\(text)'")
            }
            clauses.append(Clause(field: field, comparison: comparison, value: value))
            if tokens.isEmpty { return clauses }
            guard case .word(let joiner) = tokens.removeFirst(), joiner.lowercased() == "and" else {
                throw RunQueryError("clauses are joined by 'and' in '\(text)'")
            }
        }
    }

    enum Token: Equatable {
        case word(String)
        case quoted(String)
    }

    /// Words, operators and quoted texts.
    static func tokenize(_ text: String) throws(RunQueryError) -> [Token] {
        guard text.utf8.count <= 4096 else { throw RunQueryError("the filter is longer than 4096 bytes") }
        var tokens: [Token] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character.isWhitespace {
                index = text.index(after: index)
            } else if character == "'" || character == "\"" {
                guard let end = text[text.index(after: index)...].firstIndex(of: character) else {
                    throw RunQueryError("unterminated quote in '\(text)'")
                }
                tokens.append(.quoted(String(text[text.index(after: index)..<end])))
                index = text.index(after: end)
            } else if "<>=!".contains(character) {
                var end = text.index(after: index)
                if end < text.endIndex, text[end] == "=" { end = text.index(after: end) }
                tokens.append(.word(String(text[index..<end])))
                index = end
            } else {
                var end = index
                while end < text.endIndex, !text[end].isWhitespace, !"<>=!'\"".contains(text[end]) { end = text.index(after: end) }
                tokens.append(.word(String(text[index..<end])))
                index = end
            }
        }
        return tokens
    }
}

/// Why a run filter or sort cannot be used: names the part that is wrong and what was expected.
public struct RunQueryError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
