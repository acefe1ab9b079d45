/// A step's command, split into literal text and the places where values go.
///
/// Azure ML substitutes each `${{ }}` value into the command text and runs the result with `bash`.
/// Conduit gives the program the same text wherever that is well defined, and never lets a value
/// become shell syntax. The rule, by where the value sits in the command's own quoting:
///
/// - inside `'...'`, `"..."`, `$'...'` or a here-document body (quoted delimiter or not): the
///   program sees the value's text exactly, every character literal (no `$`, backquote or `\`
///   processing; with `<<-`, leading tabs of the value's lines are stripped, as bash strips them);
/// - unquoted: a parameter value is split into words at spaces, tabs and newlines (so
///   `--layers ${{inputs.sizes}}` with `64 32` passes two arguments, as on Azure), and each word
///   reaches the program literally: no globbing, no expansion, quotes and `;|&<>` are plain
///   characters. A value with no words (empty) adds no argument. A data path (input or output) is
///   never split: it is one word, literal;
/// - in a `#` comment: nothing (the program never sees a comment);
/// - inside arithmetic (`$(( ))`, `$[ ]`, `(( ))`): only an integer (`-12`) is accepted.
///
/// How: a value word of plain characters (letters, digits, `_ . / : % - + , @`) that stands as a
/// word of its own (or right after `=`) is written as is, so `python train.py --lr 0.1` stays a
/// plain simple command (see the worker's `SimpleCommand`); other words are single-quoted
/// (`'it'\''s'`). Inside `'...'` the value is written with `'\''` for each quote; inside `$'...'`
/// as a `$'...'` of its own (the quote closed and opened again) with `\\` and `\'`. Inside `"..."`
/// and expanding here-documents the value itself is written when it holds only plain characters,
/// spaces and `=` (`"greeting=hello world"`), else a reference `${CONDUIT_VALUE_N}`
/// to an environment variable that holds it (bash inserts it without reading it again). In a
/// quoted here-document the text itself is written. A here-document whose body holds a value (in
/// `$( )` there too) gets its delimiter renamed when a line of the rendered body equals it.
/// `render` refuses, with a ``CommandTemplateError``, a command whose quoting it cannot follow (see
/// `ShellContextScanner`) rather than guess. A command with no values is passed on as written.
public struct CommandTemplate: Sendable, Codable, Hashable {
    /// One piece of the command.
    public enum Segment: Sendable, Codable, Hashable {
        /// Text written by the pipeline author.
        case text(String)
        /// A literal parameter value (already rendered as Azure renders it).
        case value(String)
        /// The local path of a data input, filled in by the worker.
        case inputPath(String)
        /// The local path of an output, filled in by the worker.
        case outputPath(String)
    }

    public var segments: [Segment]

    public init(segments: [Segment]) {
        self.segments = segments
    }

    /// The command text and the environment variables it refers to.
    public struct Rendered: Sendable, Hashable {
        public var command: String
        public var environment: [String: String]
    }

    /// Checks that every value can be placed safely, before any path is known: the quoting can be
    /// followed, values inside arithmetic are integers (a data path there never is), and no value is
    /// one that arithmetic evaluation elsewhere would run (see ``checkArithmeticHazard(_:segment:)``).
    ///
    /// - Throws: ``CommandTemplateError`` naming the place and how to write it instead.
    public func validate() throws(CommandTemplateError) {
        guard segments.contains(where: Self.isValue) else { return }
        let layout = try ShellContextScanner.scan(segments)
        for (index, context) in layout.contexts where context == .arithmetic {
            let value = if case .value(let value) = segments[index] { value } else { "a data path" }
            try Self.checkInteger(value, segment: segments[index])
        }
        for (index, context) in layout.contexts where context != .comment {
            if case .value(let value) = segments[index] { try Self.checkArithmeticHazard(value, segment: segments[index]) }
        }
    }

    /// Fills in data paths and values; a missing path renders as an empty value.
    ///
    /// - Throws: ``CommandTemplateError`` when the command's quoting cannot be followed or a
    ///   value inside arithmetic is not an integer.
    public func render(inputPaths: [String: String], outputPaths: [String: String]) throws(CommandTemplateError) -> Rendered {
        func value(of segment: Segment) -> String {
            switch segment {
            case .text(let text): text
            case .value(let value): value
            case .inputPath(let name): inputPaths[name] ?? ""
            case .outputPath(let name): outputPaths[name] ?? ""
            }
        }
        guard segments.contains(where: Self.isValue) else {
            return Rendered(command: segments.map(value(of:)).joined(), environment: [:])
        }
        let layout = try ShellContextScanner.scan(segments)
        // A here-document with a value anywhere in its body (inside `$( )` too) must not end on a line
        // that a value made: render once, look at the body's lines, and rename the delimiter if need be.
        let checked = layout.heredocs.indices.filter { index in
            layout.units[layout.heredocs[index].body].contains { if case .slot = $0 { true } else { false } }
        }
        var replacements: [Int: (end: Int, text: String)] = [:]
        var (first, bodies) = try emit(layout, replacements: [:], value: value(of:))
        for index in checked {
            let heredoc = layout.heredocs[index]
            guard let body = bodies[index] else { continue }
            let delimiter = Self.delimiter(for: heredoc, avoidingLinesOf: Array(first.command.utf8)[body])
            guard delimiter != heredoc.delimiter else { continue }
            replacements[heredoc.word.lowerBound] = (heredoc.word.upperBound, heredoc.quoted ? Self.singleQuoted(delimiter) : delimiter)
            if let terminator = heredoc.terminator {
                replacements[terminator.lowerBound] = (terminator.upperBound, delimiter)
            }
        }
        if !replacements.isEmpty {
            (first, bodies) = try emit(layout, replacements: replacements, value: value(of:))
        }
        return first
    }

    /// Writes the command: text as is (but for `replacements`, by unit), each value in the form its
    /// context needs. Also returns where each here-document's body went in the output (bytes).
    private func emit(
        _ layout: ShellContextScanner.Layout, replacements: [Int: (end: Int, text: String)], value: (Segment) -> String
    ) throws(CommandTemplateError) -> (Rendered, [Int: Range<Int>]) {
        var output: [UInt8] = []
        var environment: [String: String] = [:]
        func reference(to value: String) -> String {
            let variable = "CONDUIT_VALUE_\(environment.count)"
            environment[variable] = value
            return "${\(variable)}"
        }
        var bodyStarts: [Int: Int] = [:], bodies: [Int: Range<Int>] = [:]
        var position = 0
        while position < layout.units.count {
            for (index, heredoc) in layout.heredocs.enumerated() {
                if heredoc.body.lowerBound == position { bodyStarts[index] = output.count }
                if heredoc.body.upperBound == position, let start = bodyStarts[index] { bodies[index] = start..<output.count }
            }
            if let (end, text) = replacements[position] {
                output.append(contentsOf: text.utf8)
                position = end
                continue
            }
            switch layout.units[position] {
            case .byte(let byte):
                output.append(byte)
            case .slot(let index):
                let text = value(segments[index])
                if layout.contexts[index] != .comment { try Self.checkArithmeticHazard(text, segment: segments[index]) }
                let written: String
                switch layout.contexts[index] ?? .comment {
                case .unquoted(let bareLeft, let bareRight):
                    if case .value = segments[index] {
                        written = Self.unquoted(text, bareLeft: bareLeft, bareRight: bareRight)
                    } else {
                        // A data path is one word, spaces and all.
                        written = text.isEmpty || (bareLeft && bareRight && Self.isPlain(text) && !Self.reservedWords.contains(text))
                            ? text : Self.singleQuoted(text)
                    }
                case .singleQuoted:
                    written = text.replacingOccurrences(of: "'", with: #"'\''"#)
                case .ansiC:
                    // Closed and opened again around the value, so that no escape of the text before it
                    // (`\x4`) or of the value can run into the other.
                    let escaped = text.replacingOccurrences(of: #"\"#, with: #"\\"#).replacingOccurrences(of: "'", with: #"\'"#)
                    written = "'$'" + escaped + "'$'"
                case .doubleQuoted(let afterName):
                    written = !afterName && Self.isQuotable(text) ? text : reference(to: text)
                case .expandingHeredoc(let afterName, let stripsTabs, let atLineStart):
                    // bash strips the tabs of `<<-` before expanding; strip them from the value's lines as
                    // they would be stripped had the value been written in the text.
                    let text = stripsTabs ? Self.strippingLeadingTabs(text, atLineStart: atLineStart) : text
                    written = !afterName && Self.isQuotable(text) ? text : reference(to: text)
                case .quotedHeredoc:
                    written = text
                case .comment:
                    written = ""
                case .arithmetic:
                    try Self.checkInteger(text, segment: segments[index])
                    written = text
                }
                output.append(contentsOf: written.utf8)
            }
            position += 1
        }
        for (index, heredoc) in layout.heredocs.enumerated() where heredoc.body.upperBound == layout.units.count {
            if let start = bodyStarts[index] { bodies[index] = start..<output.count }
        }
        return (Rendered(command: String(decoding: output, as: UTF8.self), environment: environment), bodies)
    }

    /// Whether `value` can be written into a `bash` command as a word of its own, with no effect
    /// beyond its text: letters, digits and `_ . / : % - + , @` only, and not empty. (`=` is left
    /// out: a word such as `A=1` in the place of a command would be an assignment.)
    public static func isPlain(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "%"),
                 UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "@"):
                return true
            default:
                return false
            }
        }
    }

    /// `text` with the tabs at the start of each of its lines removed (of its first line only when
    /// `atLineStart`).
    static func strippingLeadingTabs(_ text: String, atLineStart: Bool) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for index in lines.indices where index > 0 || atLineStart {
            lines[index] = lines[index].drop(while: { $0 == "\t" })
        }
        return lines.joined(separator: "\n")
    }

    /// Whether `text` may be written as is inside `"..."` or an expanding here-document: plain
    /// characters, spaces and `=` only. Anything else goes through an environment variable, so that
    /// the value stays inert even in a context bash would read differently from the scanner.
    private static func isQuotable(_ text: String) -> Bool {
        text.split(separator: " ", omittingEmptySubsequences: true).allSatisfy { word in
            word.split(separator: "=", omittingEmptySubsequences: true).allSatisfy { isPlain(String($0)) }
        }
    }

    /// `'text'`, with each `'` written `'\''`.
    static func singleQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// An unquoted value: its words (split at space, tab and newline), each plain or single-quoted.
    static func unquoted(_ value: String, bareLeft: Bool, bareRight: Bool) -> String {
        let separators: Set<Character> = [" ", "\t", "\n"]
        let words = value.split(whereSeparator: { separators.contains($0) }).map(String.init)
        guard let last = words.indices.last else { return value.isEmpty ? "" : " " }
        let leading = separators.contains(value.first!)
        let trailing = separators.contains(value.last!)
        var written = leading ? " " : ""
        for (index, word) in words.enumerated() {
            if index > 0 { written += " " }
            let standsAlone = (index > 0 || leading || bareLeft) && (index < last || trailing || bareRight)
            written += standsAlone && isPlain(word) && !reservedWords.contains(word) ? word : singleQuoted(word)
        }
        return trailing ? written + " " : written
    }

    /// bash's reserved words made of plain characters: a value word among them is quoted, so that
    /// it never starts a `case`, a loop or a function definition.
    static let reservedWords: Set<String> = [
        "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select", "then",
        "time", "until", "while",
    ]

    private static func isValue(_ segment: Segment) -> Bool {
        if case .text = segment { return false }
        return true
    }

    /// Refuses a value that bash would run if it evaluated it as arithmetic: not only inside `$(( ))`
    /// but in the operands of `[[ A -eq B ]]` (and `-ne`, `-lt`, ...), the arguments of `let` and of
    /// `declare -i`, array subscripts, and variables declared integer, all of which the command may
    /// do with a value in any quoting. Arithmetic evaluation runs a command only through an array
    /// subscript that expands (`a[$(cmd)]`, ``a[`cmd`]``, `a[${x:=...}]`), so a value with a `[`
    /// followed by a `$` or a backquote is refused wherever it goes; any other value is inert there.
    static func checkArithmeticHazard(_ value: String, segment: Segment) throws(CommandTemplateError) {
        guard let bracket = value.utf8.firstIndex(of: UInt8(ascii: "[")),
              value.utf8[bracket...].contains(where: { $0 == UInt8(ascii: "$") || $0 == UInt8(ascii: "`") }) else { return }
        throw CommandTemplateError(
            .arithmeticHazard,
            "\(describe(value, segment: segment)) has a `[` followed by `$` or a backquote: were the command to evaluate it as shell arithmetic "
                + "(`[[ X -eq N ]]`, `let`, `declare -i`, an array subscript), bash would run what it names, so Conduit "
                + "refuses it; pass such text in a file input instead")
    }

    /// How an error names a value: `the path of input 'x'`, or the value itself (shortened).
    private static func describe(_ value: String, segment: Segment) -> String {
        switch segment {
        case .inputPath(let name): "the path of input '\(name)'"
        case .outputPath(let name): "the path of output '\(name)'"
        default: "the value \(value.count > 40 ? String(value.prefix(40)).debugDescription + "…" : value.debugDescription)"
        }
    }

    private static func checkInteger(_ value: String, segment: Segment) throws(CommandTemplateError) {
        let digits = value.first == "-" || value.first == "+" ? value.dropFirst() : value[...]
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw CommandTemplateError(
                .notAnInteger,
                "\(describe(value, segment: segment)) sits inside shell arithmetic ($(( )), $[ ] or (( ))), where bash would evaluate it; only an "
                    + "integer can go there: declare the input as `type: integer`, or use the value outside the arithmetic"
            )
        }
    }

    /// The here-document's delimiter, or the first of `DELIMITER_1`, `DELIMITER_2`, ... that no line
    /// of `body` (the body with its values in) equals, so that no value can end the body early.
    private static func delimiter(for heredoc: ShellContextScanner.Heredoc, avoidingLinesOf body: ArraySlice<UInt8>) -> String {
        let lines = Set(body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            Array(heredoc.stripsTabs ? line.drop(while: { $0 == UInt8(ascii: "\t") }) : line[...])
        })
        var candidate = heredoc.delimiter
        var suffix = 0
        while lines.contains(Array(candidate.utf8)) {
            suffix += 1
            candidate = heredoc.delimiter + "_\(suffix)"
        }
        return candidate
    }
}
