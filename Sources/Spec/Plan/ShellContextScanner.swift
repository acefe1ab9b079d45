/// Reads a command template as `bash` would read it once rendered, and says in which quoting
/// context each value sits.
///
/// The template's own text decides the quoting; values are opaque (Conduit always writes them so
/// that they cannot open or close anything). The scanner follows what matters for that: unquoted
/// words, `'...'`, `"..."`, `$'...'`, `$( )`, `<( )`, `>( )`, comments, here-documents (quoted
/// delimiter or not, `<<-`), arithmetic (`$(( ))`, `$[ ]`, `(( ))`), and skips `${ }` and backquotes,
/// where it refuses values. What it cannot follow (an unterminated quote, a `case` statement inside
/// `$( )`, a value right after `\` or `$` or right before `#`, a here-document delimiter with `$`, a
/// backslash-newline that joins two words) is a ``CommandTemplateError``, never a guess.
///
/// The scanner must read the text as bash does, or a value could land in a context other than the
/// one it was written for; the places where a simpler reading goes wrong are handled on purpose:
/// `$$'` is `$$` then a quote, a backslash-newline joins lines (inside an expanding here-document
/// too), a value may not decide whether the `#` after it starts a comment, a value that is a reserved
/// word is quoted by the renderer, and the end of `$(( ))` and `${ }` is found past quotes and `$( )`.
struct ShellContextScanner {
    /// One byte of template text, or the place of a value (the index of its segment).
    enum Unit: Equatable {
        case byte(UInt8)
        case slot(Int)
    }

    /// Where a value sits, and what Conduit must write so that it reaches the program literally.
    enum Context: Equatable {
        /// Outside any quotes; `bareLeft`/`bareRight` say whether the text on that side ends the
        /// word (or is `=`), so that a plain value may be written without quotes.
        case unquoted(bareLeft: Bool, bareRight: Bool)
        /// Inside `'...'`.
        case singleQuoted
        /// Inside `"..."`; `afterName` when a letter, digit or `_` comes just before.
        case doubleQuoted(afterName: Bool)
        /// Inside `$'...'`.
        case ansiC
        /// In the body of a here-document whose delimiter is quoted (literal text); `heredoc` indexes
        /// ``Layout/heredocs``.
        case quotedHeredoc(heredoc: Int)
        /// In the body of a here-document whose delimiter is not quoted (it expands `$`); with
        /// `stripsTabs` (`<<-`), `atLineStart` says whether only tabs precede it on its line.
        case expandingHeredoc(afterName: Bool, stripsTabs: Bool, atLineStart: Bool)
        /// In a `#` comment: the program never sees it.
        case comment
        /// Inside shell arithmetic.
        case arithmetic
    }

    /// A here-document: its delimiter word, body and closing line.
    struct Heredoc: Equatable {
        /// The delimiter, quotes removed.
        var delimiter: String
        /// Whether the delimiter word was quoted (the body is then literal text).
        var quoted: Bool
        /// `<<-`: leading tabs are stripped from body lines and the delimiter line.
        var stripsTabs: Bool
        /// The delimiter word after `<<`, in units.
        var word: Range<Int>
        /// The body, in units, the delimiter line left out.
        var body: Range<Int> = 0..<0
        /// The delimiter on its closing line (leading tabs left out), when the body has one.
        var terminator: Range<Int>?
    }

    /// The result: the units and the context of every value.
    struct Layout {
        var units: [Unit]
        /// The context of each value, by segment index.
        var contexts: [Int: Context]
        var heredocs: [Heredoc]
    }

    private enum Frame: Equatable {
        case command(substitution: Bool, depth: Int)
        case singleQuoted
        case doubleQuoted
        case ansiC
        case heredoc(Int)
    }

    private let units: [Unit]
    private var position = 0
    private var stack: [(frame: Frame, opened: Int)] = [(.command(substitution: false, depth: 0), 0)]
    private var contexts: [Int: Context] = [:]
    private var heredocs: [Heredoc] = []
    private var pending: [Heredoc] = []
    /// How deep the stack was where the pending here-documents were declared.
    private var pendingDepth = 0
    /// Where the line after the last backslash-newline starts (bash joins it to the one before).
    private var continuationEnd = -1

    /// Scans `segments`; values are the segments that are not `.text`.
    static func scan(_ segments: [CommandTemplate.Segment]) throws(CommandTemplateError) -> Layout {
        var units: [Unit] = []
        for (index, segment) in segments.enumerated() {
            if case .text(let text) = segment {
                units.append(contentsOf: text.utf8.map(Unit.byte))
            } else {
                units.append(.slot(index))
            }
        }
        var scanner = ShellContextScanner(units: units)
        try scanner.run()
        return Layout(units: units, contexts: scanner.contexts, heredocs: scanner.heredocs)
    }

    private init(units: [Unit]) {
        self.units = units
    }

    private mutating func run() throws(CommandTemplateError) {
        while position < units.count {
            try refuseEnclosingDelimiterLine()
            switch stack[stack.count - 1].frame {
            case .command(let substitution, let depth): try stepCommand(substitution: substitution, depth: depth)
            case .singleQuoted: try stepSingleQuoted(ansiC: false)
            case .doubleQuoted: try stepDoubleQuoted()
            case .ansiC: try stepSingleQuoted(ansiC: true)
            case .heredoc(let index): try stepHeredoc(index)
            }
        }
        if case .heredoc(let index) = stack[stack.count - 1].frame {
            heredocs[index].body = heredocs[index].body.lowerBound..<units.count
            stack.removeLast()
        }
        guard stack.count == 1 else {
            let (frame, opened) = stack[stack.count - 1]
            let what = switch frame {
            case .singleQuoted: "the single quote"
            case .doubleQuoted: "the double quote"
            case .ansiC: "the $'...' quote"
            case .command: "the $( ) or <( )"
            case .heredoc: "the here-document"
            }
            throw CommandTemplateError(
                .unterminated,
                "\(what) that starts at \(excerpt(from: opened)) is never closed, so Conduit cannot tell how bash "
                    + "would read the values after it; close it"
            )
        }
    }

    // MARK: Frames

    private mutating func stepCommand(substitution: Bool, depth: Int) throws(CommandTemplateError) {
        guard case .byte(let byte) = units[position] else {
            guard case .slot(let slot) = units[position] else { return }
            let left = position == 0 || Self.endsWordOnTheLeft(units[position - 1])
            let right = position + 1 == units.count || Self.endsWordOnTheRight(units[position + 1])
            contexts[slot] = .unquoted(bareLeft: left, bareRight: right)
            position += 1
            return
        }
        switch byte {
        case UInt8(ascii: "\\"):
            try stepBackslash()
        case UInt8(ascii: "'"):
            push(.singleQuoted, advancing: 1)
        case UInt8(ascii: "\""):
            push(.doubleQuoted, advancing: 1)
        case UInt8(ascii: "`"):
            try skipBackquotes()
        case UInt8(ascii: "$"):
            switch self.byte(at: position + 1) {
            case UInt8(ascii: "'"): push(.ansiC, advancing: 2)
            case UInt8(ascii: "\""): push(.doubleQuoted, advancing: 2)
            default: try stepDollar()
            }
        case UInt8(ascii: "#") where position > 0 && isSlot(units[position - 1]):
            throw CommandTemplateError(
                .unsupportedPlace,
                "a # right after a ${{ }} value at \(excerpt(from: position - 1)): bash would read it as a comment or not "
                    + "depending on the value; put a space before the # or quote it"
            )
        case UInt8(ascii: "(") where position > 0 && isSlot(units[position - 1]):
            throw CommandTemplateError(
                .unsupportedPlace,
                "a ( right after a ${{ }} value at \(excerpt(from: position - 1)): bash would read it differently depending "
                    + "on the value; put a space before the ( or quote it"
            )
        case UInt8(ascii: "#") where isWordStart(position):
            skipComment()
        case UInt8(ascii: "(") where isWordStart(position) && self.byte(at: position + 1) == UInt8(ascii: "("):
            try skipArithmetic(from: position, contentStart: position + 2)
        case UInt8(ascii: "("):
            setTop(.command(substitution: substitution, depth: depth + 1))
            position += 1
        case UInt8(ascii: ")"):
            if depth > 0 {
                setTop(.command(substitution: substitution, depth: depth - 1))
            } else if substitution {
                stack.removeLast()
            }
            position += 1
        case UInt8(ascii: "<") where self.byte(at: position + 1) == UInt8(ascii: "<"):
            if self.byte(at: position + 2) == UInt8(ascii: "<") {
                position += 3
            } else {
                try readHeredocWord()
            }
        case UInt8(ascii: "<"), UInt8(ascii: ">"):
            if self.byte(at: position + 1) == UInt8(ascii: "(") {
                push(.command(substitution: true, depth: 0), advancing: 2)
            } else {
                position += 1
            }
        case UInt8(ascii: "\n"):
            if !pending.isEmpty && stack.count != pendingDepth {
                throw CommandTemplateError(
                    .unsupportedPlace,
                    "a here-document's body would start inside $( ) or ( ) at \(excerpt(from: position)), not where its << "
                        + "is; end the $( ) on the line of <<"
                )
            }
            position += 1
            if !pending.isEmpty { startNextHeredoc() }
        case UInt8(ascii: "c") where substitution && (isWordStart(position) || position > 0 && isSlot(units[position - 1]))
            && startsWord("case", at: position):
            throw CommandTemplateError(
                .unsupportedPlace,
                "a case statement inside $( ) at \(excerpt(from: position)): Conduit cannot follow its ) patterns, "
                    + "so it cannot tell how bash reads the values; move the case statement out of $( ) or into a script file"
            )
        default:
            position += 1
        }
    }

    /// Inside `'...'`, or `$'...'` (`ansiC`), where a backslash escapes the next character.
    private mutating func stepSingleQuoted(ansiC: Bool) throws(CommandTemplateError) {
        switch units[position] {
        case .slot(let slot):
            contexts[slot] = ansiC ? .ansiC : .singleQuoted
        case .byte(UInt8(ascii: "\\")) where ansiC:
            try refuseValue(at: position + 1, "right after a backslash")
            position += 1
        case .byte(UInt8(ascii: "'")):
            stack.removeLast()
        case .byte(UInt8(ascii: "\n")):
            try refuseHeredocAfterQuotedNewline()
        case .byte:
            break
        }
        position += 1
    }

    private mutating func stepDoubleQuoted() throws(CommandTemplateError) {
        switch units[position] {
        case .slot(let slot):
            contexts[slot] = .doubleQuoted(afterName: isAfterNameCharacter(position))
            position += 1
        case .byte(UInt8(ascii: "\"")):
            stack.removeLast()
            position += 1
        case .byte(UInt8(ascii: "\\")):
            try stepBackslash()
        case .byte(UInt8(ascii: "$")):
            try stepDollar()
        case .byte(UInt8(ascii: "`")):
            try skipBackquotes()
        case .byte(UInt8(ascii: "\n")):
            try refuseHeredocAfterQuotedNewline()
            position += 1
        case .byte:
            position += 1
        }
    }

    private mutating func stepHeredoc(_ index: Int) throws(CommandTemplateError) {
        let heredoc = heredocs[index]
        // After a backslash-newline (expanding here-documents only) bash has joined the two lines.
        let atLineStart = position == heredoc.body.lowerBound || units[position - 1] == .byte(UInt8(ascii: "\n"))
        if atLineStart && position != continuationEnd {
            var lineEnd = position
            while lineEnd < units.count, units[lineEnd] != .byte(UInt8(ascii: "\n")) { lineEnd += 1 }
            var start = position
            if heredoc.stripsTabs {
                while start < lineEnd, units[start] == .byte(UInt8(ascii: "\t")) { start += 1 }
            }
            if units[start..<lineEnd].elementsEqual(heredoc.delimiter.utf8.map(Unit.byte)) {
                heredocs[index].body = heredoc.body.lowerBound..<position
                heredocs[index].terminator = start..<lineEnd
                stack.removeLast()
                position = min(lineEnd + 1, units.count)
                if !pending.isEmpty { startNextHeredoc() }
                return
            }
        }
        if heredoc.quoted {
            if case .slot(let slot) = units[position] {
                contexts[slot] = .quotedHeredoc(heredoc: index)
            }
            position += 1
            return
        }
        switch units[position] {
        case .slot(let slot):
            var start = position
            while start > heredoc.body.lowerBound, units[start - 1] == .byte(UInt8(ascii: "\t")) { start -= 1 }
            let atLineStart = start == heredoc.body.lowerBound || units[start - 1] == .byte(UInt8(ascii: "\n"))
            contexts[slot] = .expandingHeredoc(
                afterName: isAfterNameCharacter(position), stripsTabs: heredoc.stripsTabs, atLineStart: atLineStart
            )
            position += 1
        case .byte(UInt8(ascii: "\\")):
            try stepBackslash()
        case .byte(UInt8(ascii: "$")):
            try stepDollar()
        case .byte(UInt8(ascii: "`")):
            try skipBackquotes()
        case .byte:
            position += 1
        }
    }

    /// `\` where it escapes (unquoted, in `"..."`, in an expanding here-document).
    ///
    /// bash removes a backslash-newline before it reads the text around it, joining the two sides;
    /// it is accepted only with a blank (or the start or end of a line) on one side, where the
    /// joining cannot make a different token (`$\⏎(` would be `$(`).
    private mutating func stepBackslash() throws(CommandTemplateError) {
        try refuseValue(at: position + 1, "right after a backslash")
        if byte(at: position + 1) == UInt8(ascii: "\n") {
            func isBlank(_ index: Int) -> Bool {
                guard index >= 0, index < units.count else { return true }
                return units[index] == .byte(UInt8(ascii: " ")) || units[index] == .byte(UInt8(ascii: "\t"))
                    || units[index] == .byte(UInt8(ascii: "\n"))
            }
            guard isBlank(position - 1) || isBlank(position + 2) else {
                throw CommandTemplateError(
                    .unsupportedPlace,
                    "the line that ends in \\ at \(excerpt(from: max(0, position - 10))) joins the text around it into one "
                        + "word, which Conduit does not follow in a command with ${{ }} values; put a space before the \\"
                )
            }
            continuationEnd = position + 2
        }
        position += 2
    }

    /// `$` where it expands (unquoted, in `"..."`, in an expanding here-document).
    private mutating func stepDollar() throws(CommandTemplateError) {
        try refuseValue(at: position + 1, "right after a $ (bash would read the two together)")
        switch byte(at: position + 1) {
        case UInt8(ascii: "("):
            if byte(at: position + 2) == UInt8(ascii: "(") {
                try skipArithmetic(from: position, contentStart: position + 3)
            } else {
                push(.command(substitution: true, depth: 0), advancing: 2)
            }
        case UInt8(ascii: "{"):
            try skipParameterExpansion()
        case UInt8(ascii: "["):
            try skipBracketArithmetic()
        case let next? where Self.specialParameters.contains(next):
            // `$$`, `$#`, `$?`...: read as one, so that `$$'...'` is `$$` and a single-quoted string.
            position += 2
        default:
            position += 1
        }
    }

    /// The characters that make a special parameter after `$`.
    private static let specialParameters: Set<UInt8> = Set("$#?!-@*0123456789".utf8)

    // MARK: Regions skipped whole

    /// `` `...` ``: its text is read again by bash, so values are refused there.
    private mutating func skipBackquotes() throws(CommandTemplateError) {
        let opened = position
        var index = position + 1
        while index < units.count {
            switch units[index] {
            case .slot:
                throw CommandTemplateError(
                    .unsupportedPlace,
                    "a ${{ }} value inside backquotes at \(excerpt(from: opened)): bash reads that text twice, so Conduit "
                        + "cannot pass a value there safely; write $( ... ) instead of ` ... `"
                )
            case .byte(UInt8(ascii: "\\")):
                index += 2
            case .byte(UInt8(ascii: "`")):
                position = index + 1
                return
            case .byte:
                index += 1
            }
        }
        throw unterminated("the backquote", at: opened)
    }

    /// `${ ... }`: values are refused inside (its quoting rules depend on the operator).
    private mutating func skipParameterExpansion() throws(CommandTemplateError) {
        let opened = position
        var index = position + 2
        var depth = 1
        var parentheses = 0
        while index < units.count {
            switch units[index] {
            case .slot:
                throw CommandTemplateError(
                    .unsupportedPlace,
                    "a ${{ }} value inside ${ } at \(excerpt(from: opened)): Conduit cannot pass a value there safely; "
                        + "set a variable first (X=\"${{inputs.NAME}}\") and use ${X...}"
                )
            case .byte(UInt8(ascii: "\\")):
                index += 2
            case .byte(UInt8(ascii: "'")), .byte(UInt8(ascii: "\"")):
                let quote = units[index]
                index += 1
                while index < units.count, units[index] != quote {
                    if case .slot = units[index] {
                        throw CommandTemplateError(
                            .unsupportedPlace,
                            "a ${{ }} value inside ${ } at \(excerpt(from: opened)): Conduit cannot pass a value there safely; "
                                + "set a variable first (X=\"${{inputs.NAME}}\") and use ${X...}"
                        )
                    }
                    if quote == .byte(UInt8(ascii: "\"")), units[index] == .byte(UInt8(ascii: "\\")) { index += 1 }
                    index += 1
                }
                index += 1
            case .byte(UInt8(ascii: "$")) where byte(at: index + 1) == UInt8(ascii: "{"):
                depth += 1
                index += 2
            case .byte(UInt8(ascii: "(")):
                // `$( )` inside `${ }`: a `}` there does not end the expansion.
                parentheses += 1
                index += 1
            case .byte(UInt8(ascii: ")")):
                parentheses = max(0, parentheses - 1)
                index += 1
            case .byte(UInt8(ascii: "}")) where parentheses > 0:
                index += 1
            case .byte(UInt8(ascii: "}")):
                depth -= 1
                index += 1
                if depth == 0 {
                    position = index
                    return
                }
            case .byte:
                index += 1
            }
        }
        throw unterminated("the ${", at: opened)
    }

    /// `$(( ... ))` or `(( ... ))`, from `start`; values there must be integers.
    private mutating func skipArithmetic(from start: Int, contentStart: Int) throws(CommandTemplateError) {
        try skipArithmetic(from: start, contentStart: contentStart, opening: UInt8(ascii: "("), closing: UInt8(ascii: ")"), depth: 2, what: "the arithmetic expression")
    }

    /// `$[ ... ]` (old arithmetic); values there must be integers.
    private mutating func skipBracketArithmetic() throws(CommandTemplateError) {
        try skipArithmetic(from: position, contentStart: position + 2, opening: UInt8(ascii: "["), closing: UInt8(ascii: "]"), depth: 1, what: "the $[ arithmetic expression")
    }

    /// Arithmetic from `contentStart` until `closing` brings the nesting of `opening` and `closing`
    /// (starting at `depth`) back to zero: every value inside is marked `.arithmetic`; quoted strings
    /// and escapes are skipped whole.
    private mutating func skipArithmetic(
        from start: Int, contentStart: Int, opening: UInt8, closing: UInt8, depth: Int, what: String
    ) throws(CommandTemplateError) {
        var index = contentStart
        var depth = depth
        while index < units.count {
            switch units[index] {
            case .slot(let slot):
                contexts[slot] = .arithmetic
            case .byte(opening):
                depth += 1
            case .byte(closing):
                depth -= 1
                if depth == 0 {
                    position = index + 1
                    return
                }
            case .byte(UInt8(ascii: "'")), .byte(UInt8(ascii: "\"")), .byte(UInt8(ascii: "\\")):
                index = skipQuoted(at: index) - 1
            case .byte:
                break
            }
            index += 1
        }
        throw unterminated(what, at: start)
    }

    /// Inside arithmetic: the index after the quoted string or escaped character at `index` (as
    /// bash finds the end of `$(( ))`); values inside are arithmetic too (integers only).
    private mutating func skipQuoted(at index: Int) -> Int {
        let opening = units[index]
        if opening == .byte(UInt8(ascii: "\\")) { return index + 2 }
        var index = index + 1
        while index < units.count, units[index] != opening {
            if case .slot(let slot) = units[index] { contexts[slot] = .arithmetic }
            if opening == .byte(UInt8(ascii: "\"")), units[index] == .byte(UInt8(ascii: "\\")) { index += 1 }
            index += 1
        }
        return index + 1
    }

    /// `# ...` up to the end of the line (left for the newline to be read as such).
    private mutating func skipComment() {
        while position < units.count, units[position] != .byte(UInt8(ascii: "\n")) {
            if case .slot(let slot) = units[position] { contexts[slot] = .comment }
            position += 1
        }
    }

    // MARK: Here-documents

    /// `<<WORD` or `<<-WORD`: records the here-document, whose body starts after the next newline.
    private mutating func readHeredocWord() throws(CommandTemplateError) {
        let opened = position
        if stack.contains(where: { if case .heredoc = $0.frame { true } else { false } }) {
            throw CommandTemplateError(
                .unsupportedPlace,
                "a here-document inside the body of another at \(excerpt(from: opened)): bash reads the outer body first, "
                    + "which Conduit does not follow in a command with ${{ }} values; move it out"
            )
        }
        var index = position + 2
        var stripsTabs = false
        if byte(at: index) == UInt8(ascii: "-") {
            stripsTabs = true
            index += 1
        }
        while byte(at: index) == UInt8(ascii: " ") || byte(at: index) == UInt8(ascii: "\t") { index += 1 }
        let wordStart = index
        var delimiter: [UInt8] = []
        var quoted = false
        func next(_ index: Int) throws(CommandTemplateError) -> UInt8 {
            guard index < units.count else { throw unterminated("the here-document delimiter", at: opened) }
            guard case .byte(let byte) = units[index] else {
                throw CommandTemplateError(
                    .unsupportedPlace,
                    "a ${{ }} value in the here-document delimiter at \(excerpt(from: opened)); write the delimiter as plain text"
                )
            }
            return byte
        }
        word: while index < units.count {
            let byte = try next(index)
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: ";"), UInt8(ascii: "&"),
                 UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "("), UInt8(ascii: ")"):
                break word
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                quoted = true
                index += 1
                while try next(index) != byte {
                    if byte == UInt8(ascii: "\""), try next(index) == UInt8(ascii: "\\") { index += 1 }
                    delimiter.append(try next(index))
                    index += 1
                }
                index += 1
            case UInt8(ascii: "\\"):
                quoted = true
                delimiter.append(try next(index + 1))
                index += 2
            case UInt8(ascii: "$"), UInt8(ascii: "`"):
                throw CommandTemplateError(
                    .unsupportedPlace,
                    "the here-document delimiter at \(excerpt(from: opened)) holds $ or a backquote, which Conduit does not "
                        + "follow in a command with ${{ }} values; write a plain delimiter such as EOF or 'EOF'"
                )
            default:
                delimiter.append(byte)
                index += 1
            }
        }
        guard index > wordStart else {
            throw CommandTemplateError(.unterminated, "<< at \(excerpt(from: opened)) has no delimiter word after it; write <<EOF")
        }
        pendingDepth = stack.count
        pending.append(Heredoc(
            delimiter: String(decoding: delimiter, as: UTF8.self), quoted: quoted, stripsTabs: stripsTabs, word: wordStart..<index
        ))
        position = index
    }

    /// bash finds the end of a here-document line by line before it reads the body's `$( )` or
    /// quotes: a line equal to the delimiter inside them ends the body there, which the scanner
    /// would not see; refused.
    private func refuseEnclosingDelimiterLine() throws(CommandTemplateError) {
        guard position > 0, units[position - 1] == .byte(UInt8(ascii: "\n")), position != continuationEnd,
              stack.count > 1, let enclosing = stack.dropLast().last(where: { if case .heredoc = $0.frame { true } else { false } }),
              case .heredoc(let index) = enclosing.frame
        else { return }
        let heredoc = heredocs[index]
        var end = position
        while end < units.count, units[end] != .byte(UInt8(ascii: "\n")) { end += 1 }
        var start = position
        if heredoc.stripsTabs {
            while start < end, units[start] == .byte(UInt8(ascii: "\t")) { start += 1 }
        }
        if units[start..<end].elementsEqual(heredoc.delimiter.utf8.map(Unit.byte)) {
            throw CommandTemplateError(
                .unsupportedPlace,
                "the here-document's delimiter line at \(excerpt(from: start)) sits inside $( ) or quotes of its body; bash "
                    + "would end the body there: close them before the delimiter line"
            )
        }
    }

    private mutating func startNextHeredoc() {
        var heredoc = pending.removeFirst()
        heredoc.body = position..<position
        heredocs.append(heredoc)
        stack.append((.heredoc(heredocs.count - 1), position))
    }

    /// bash would read a pending here-document's body after a newline inside quotes; Conduit does not follow that.
    private func refuseHeredocAfterQuotedNewline() throws(CommandTemplateError) {
        guard pending.isEmpty else {
            throw CommandTemplateError(
                .unsupportedPlace,
                "a quoted string spans the line that a here-document's body should follow (at \(excerpt(from: position))); "
                    + "end the quote on the line of <<"
            )
        }
    }

    // MARK: Helpers

    private mutating func push(_ frame: Frame, advancing count: Int) {
        stack.append((frame, position))
        position += count
    }

    private mutating func setTop(_ frame: Frame) {
        stack[stack.count - 1].frame = frame
    }

    private func isSlot(_ unit: Unit) -> Bool {
        if case .slot = unit { return true }
        return false
    }

    private func byte(at index: Int) -> UInt8? {
        guard index < units.count, case .byte(let byte) = units[index] else { return nil }
        return byte
    }

    private func refuseValue(at index: Int, _ place: String) throws(CommandTemplateError) {
        guard index < units.count, case .slot = units[index] else { return }
        throw CommandTemplateError(
            .unsupportedPlace,
            "a ${{ }} value \(place) at \(excerpt(from: max(0, index - 1))); Conduit cannot tell what that character "
                + "should do there: remove it or put it inside quotes ('\\' or '$')"
        )
    }

    private func unterminated(_ what: String, at index: Int) -> CommandTemplateError {
        CommandTemplateError(
            .unterminated,
            "\(what) that starts at \(excerpt(from: index)) is never closed, so Conduit cannot tell how bash would read "
                + "the values after it; close it"
        )
    }

    /// Whether a word starts at `index` (for `#` comments and `((`).
    private func isWordStart(_ index: Int) -> Bool {
        if index == 0 { return true }
        guard case .byte(let byte) = units[index - 1] else { return false }
        guard Self.wordEnders.contains(byte) || byte == UInt8(ascii: "(") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">")
        else { return false }
        // `\ ` (an escaped blank or metacharacter) is part of the word: count the backslashes before it.
        var backslashes = 0
        while index - 2 - backslashes >= 0, units[index - 2 - backslashes] == .byte(UInt8(ascii: "\\")) { backslashes += 1 }
        return backslashes % 2 == 0
    }

    private func startsWord(_ word: String, at index: Int) -> Bool {
        let bytes = Array(word.utf8)
        guard index + bytes.count <= units.count,
              units[index..<(index + bytes.count)].elementsEqual(bytes.map(Unit.byte)) else { return false }
        guard let after = byte(at: index + bytes.count) else { return index + bytes.count == units.count }
        return after == UInt8(ascii: " ") || after == UInt8(ascii: "\t") || after == UInt8(ascii: "\n")
    }

    private func isAfterNameCharacter(_ index: Int) -> Bool {
        guard index > 0, case .byte(let byte) = units[index - 1] else { return false }
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// Text `excerpt` for messages: up to 30 characters from `index`, values shown as `${{…}}`.
    private func excerpt(from index: Int) -> String {
        var bytes: [UInt8] = []
        for unit in units[index..<min(units.count, index + 30)] {
            switch unit {
            case .byte(let byte): bytes.append(byte)
            case .slot: bytes.append(contentsOf: "${{…}}".utf8)
            }
        }
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\n", with: "⏎")
        return "'" + text + (index + 30 < units.count ? "…'" : "'")
    }

    /// Bytes that end a word (and so let a plain value stand unquoted next to them).
    private static let wordEnders: Set<UInt8> = Set(" \t\n;&|)".utf8)

    private static func endsWordOnTheLeft(_ unit: Unit) -> Bool {
        guard case .byte(let byte) = unit else { return true }
        return wordEnders.contains(byte) || "(=<>".utf8.contains(byte)
    }

    private static func endsWordOnTheRight(_ unit: Unit) -> Bool {
        guard case .byte(let byte) = unit else { return true }
        return wordEnders.contains(byte)
    }
}
