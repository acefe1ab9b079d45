import Foundation
import Testing
import TestKit
@testable import Spec

/// Rendered commands run under a real `bash`: every value reaches the program as the text Azure
/// would give it, in every quoting context, and no value ever runs anything.
@Suite struct CommandRenderingTests {
    /// A scratch directory holding one file (so that a glob that expands is seen), removed at the end.
    final class Scratch {
        let path: String
        var marker: String { path + "/pwned" }

        init() throws {
            path = FileManager.default.temporaryDirectory.path + "/conduit-render-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: path + "/globbed", contents: Data())
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Runs `bash -c rendered.command` here; returns the NUL-separated fields of its output.
        func run(_ rendered: CommandTemplate.Rendered) throws -> (fields: [String], error: String, status: Int32) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", rendered.command]
            process.currentDirectoryURL = URL(fileURLWithPath: path)
            process.environment = ["PATH": "/usr/bin:/bin", "HOME": "/home-sentinel"].merging(rendered.environment) { _, new in new }
            let output = Pipe(), error = Pipe()
            process.standardOutput = output
            process.standardError = error
            try process.run()
            let outputData = output.fileHandleForReading.readDataToEndOfFile()
            let errorData = error.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            var bytes = [UInt8](outputData)
            if bytes.last == 0 { bytes.removeLast() }
            let fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            return (fields, String(decoding: errorData, as: UTF8.self), process.terminationStatus)
        }
    }

    /// One template: the command around a value, and what the program must see for a value.
    struct Shape: Sendable {
        var name: String
        var parts: [String]
        /// What the program must see for a value; `split` is false for a data path (never split).
        var expected: @Sendable (_ value: String, _ split: Bool) -> [String]
    }

    /// The value's words, as the unquoted rule splits them.
    static func words(_ text: String, split: Bool = true) -> [String] {
        guard split else { return text.isEmpty ? [] : [text] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// Each line with its leading tabs removed, as `<<-` does.
    static func stripTabs(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.drop(while: { $0 == "\t" }) }.joined(separator: "\n")
    }

    static let shapes: [Shape] = [
        Shape(name: "unquoted", parts: [#"printf '%s\0' first "#, ""]) { ["first"] + words($0, split: $1) },
        Shape(name: "unquoted between text", parts: [#"printf '%s\0' pre"#, "post"]) { words("pre" + $0 + "post", split: $1) },
        Shape(name: "single quotes", parts: [#"printf '%s\0' 'a "#, " b'"]) { value, _ in ["a " + value + " b"] },
        Shape(name: "double quotes", parts: [#"printf '%s\0' "a "#, #" b""#]) { value, _ in ["a " + value + " b"] },
        Shape(name: "double quotes after a variable", parts: [#"X=1; printf '%s\0' "$X"#, #"""#]) { value, _ in ["1" + value] },
        Shape(name: "ANSI-C quotes", parts: [#"printf '%s\0' $'a\t"#, "'"]) { value, _ in ["a\t" + value] },
        Shape(name: "quoted heredoc", parts: ["cat <<'EOF'\nx", "y\nEOF\nprintf '\\0'"]) { value, _ in ["x" + value + "y\n"] },
        Shape(name: "expanding heredoc", parts: ["cat <<EOF\nx", "y $((1+1)) \\$HOME\nEOF\nprintf '\\0'"]) { value, _ in ["x" + value + "y 2 $HOME\n"] },
        Shape(name: "quoted heredoc, tabs stripped", parts: ["cat <<-'EOF'\n\tx", "y\n\tEOF\nprintf '\\0'"]) { value, _ in
            [stripTabs("\tx" + value + "y") + "\n"]
        },
        Shape(name: "expanding heredoc, tabs stripped", parts: ["cat <<-EOF\n\t", "\n\tEOF\nprintf '\\0'"]) { value, _ in
            [stripTabs("\t" + value) + "\n"]
        },
        Shape(name: "single quotes in $( ) in double quotes", parts: [#"printf '%s\0' "$(printf '%s' 'a"#, #"b')""#]) { value, _ in ["a" + value + "b"] },
        Shape(name: "unquoted in $( ) in double quotes", parts: [#"printf '%s\0' "$(printf '%s\0' "#, #" | tr '\0' '|')""#]) { value, split in
            let printed = words(value, split: split)
            return [printed.isEmpty ? "|" : printed.map { $0 + "|" }.joined()]
        },
        Shape(name: "comment", parts: [#"printf '%s\0' a # "#, "\nprintf '%s\\0' b"]) { _, _ in ["a", "b"] },
        Shape(name: "every context at once", parts: [#"printf '%s\0' "#, " '", #"' ""#, #"" $'"#, "'"]) { value, split in
            words(value, split: split) + [value, value, value]
        },
    ]

    /// Pieces values are drawn from: every character bash treats specially, attempts to run a
    /// command, lines that equal a here-document delimiter, and random Unicode scalars.
    static func value(marker: String, using generator: inout SeededGenerator) -> String {
        let hostile = [
            "'", "\"", "$(touch \(marker))", "`touch \(marker)`", "\\", "$HOME", "${HOME}", ";", "|", "&", "\n", "*", "?",
            "[a-z]*", "{a,b}", "~", "EOF", "\nEOF\n", "\n\tEOF", "#", " ", "\t", "!", "$'", #"'\''"#, #"\n"#, "$((1+1))",
            "<", ">", "(", ")", "a=b", ";touch \(marker);", "\r", "-", "0.5", "x", "$", "}}", "$[1+1]", "\u{7F}", "é",
        ]
        let ranges: [ClosedRange<UInt32>] = [1...31, 32...126, 0x80...0x7FF, 0x4E00...0x4E80, 0x1F600...0x1F640]
        var text = ""
        for _ in 0..<Int.random(in: 0...6, using: &generator) {
            if generator.chance(0.7) {
                text += hostile.randomElement(using: &generator)!
            } else {
                let range = ranges.randomElement(using: &generator)!
                text.unicodeScalars.append(Unicode.Scalar(UInt32.random(in: range, using: &generator))!)
            }
        }
        return text
    }

    @Test func everyValueReachesTheProgramLiterallyInEveryContext() throws {
        let scratch = try Scratch()
        var generator = SeededGenerator(seed: 0xC0DE_7E57)
        for round in 0..<16 {
            for shape in Self.shapes {
                let value = Self.value(marker: scratch.marker, using: &generator)
                // The value arrives as a parameter, an input path or an output path.
                let kind = Int.random(in: 0..<3, using: &generator)
                var segments: [CommandTemplate.Segment] = []
                for (index, part) in shape.parts.enumerated() {
                    if !part.isEmpty { segments.append(.text(part)) }
                    if index < shape.parts.count - 1 {
                        segments.append([.value(value), .inputPath("x"), .outputPath("y")][kind])
                    }
                }
                if Self.isArithmeticHazard(value), !shape.name.contains("comment") {
                    // Refused in every context: see arithmeticEvaluationAnywhereCannotRunAValue.
                    #expect(throws: CommandTemplateError.self) {
                        try CommandTemplate(segments: segments).render(inputPaths: ["x": value], outputPaths: ["y": value])
                    }
                    continue
                }
                let rendered = try CommandTemplate(segments: segments).render(inputPaths: ["x": value], outputPaths: ["y": value])
                let (fields, error, status) = try scratch.run(rendered)
                let context = "round \(round), \(shape.name), value \(value.debugDescription), command \(rendered.command.debugDescription)"
                #expect(fields == shape.expected(value, kind == 0), "\(context)")
                #expect(status == 0 && error.isEmpty, "\(context): \(error)")
                #expect(!FileManager.default.fileExists(atPath: scratch.marker), "\(context) ran a command")
            }
        }
    }

    /// A `[` followed by `$` or a backquote: what arithmetic evaluation would run.
    static func isArithmeticHazard(_ value: String) -> Bool {
        guard let bracket = value.firstIndex(of: "[") else { return false }
        return value[bracket...].contains { $0 == "$" || $0 == "`" }
    }

    /// bash evaluates as arithmetic, and so runs the command substitutions of array subscripts in,
    /// the operands of `[[ -eq ]]`, `let` and `declare -i`, whatever their quoting; such a value is
    /// refused wherever it goes (at load time for a literal, at run time for a path), and a value
    /// with a subscript that expands nothing still reaches the program.
    @Test(arguments: [
        #"[[ '${{inputs.v}}' -eq 1 ]]; echo done"#,
        #"[[ "${{inputs.v}}" -gt 0 ]]; echo done"#,
        #"let 'x=${{inputs.v}}'; echo done"#,
        #"declare -i y='${{inputs.v}}'; echo done"#,
        #"echo ${{inputs.v}}"#,
    ])
    func arithmeticEvaluationAnywhereCannotRunAValue(command: String) throws {
        let scratch = try Scratch()
        for value in ["a[$(touch \(scratch.marker))]", "a[`touch \(scratch.marker)`]", "x[${y:=1}]"] {
            let yaml = """
                type: pipeline
                jobs:
                  a:
                    command: \(command.debugDescription)
                    inputs: {v: \(value.debugDescription)}
                """
            #expect(throws: (any Error).self, "\(command) with \(value)") { try Fixture.load(yaml) }
            let segments = try Self.segments(of: command, value: value)
            #expect(throws: CommandTemplateError.self) { try CommandTemplate(segments: segments).render(inputPaths: [:], outputPaths: [:]) }
            let asPath = segments.map { segment -> CommandTemplate.Segment in
                if case .value = segment { .inputPath("x") } else { segment }
            }
            #expect(throws: CommandTemplateError.self) { try CommandTemplate(segments: asPath).render(inputPaths: ["x": value], outputPaths: [:]) }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.marker))
        let plain = try CommandTemplate(segments: try Self.segments(of: command, value: "a[1]")).render(inputPaths: [:], outputPaths: [:])
        _ = try scratch.run(plain)
        #expect(!FileManager.default.fileExists(atPath: scratch.marker))
    }

    /// `command` split at `${{inputs.v}}`, with `value` in its place.
    static func segments(of command: String, value: String) throws -> [CommandTemplate.Segment] {
        let parts = command.components(separatedBy: "${{inputs.v}}")
        var segments: [CommandTemplate.Segment] = []
        for (index, part) in parts.enumerated() {
            if !part.isEmpty { segments.append(.text(part)) }
            if index < parts.count - 1 { segments.append(.value(value)) }
        }
        return segments
    }

    @Test func aSingleQuotedValueReachesThePythonSourceAsAzureRendersIt() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: printf '%s\\0' 'print("${{inputs.msg}}")' "${{inputs.msg}}" ${{inputs.msg}}
                inputs: {msg: hello world}
            """)
        let rendered = try plan.steps[0].command.render(inputPaths: [:], outputPaths: [:])
        #expect(try Scratch().run(rendered).fields == [#"print("hello world")"#, "hello world", "hello", "world"])
    }

    @Test func hostileValuesAreLiteralTextAndRunNothing() throws {
        let scratch = try Scratch()
        for value in ["$(touch \(scratch.marker))", "`touch \(scratch.marker)`", "'; touch \(scratch.marker); '", "\"; touch \(scratch.marker) #"] {
            let segments: [CommandTemplate.Segment] = [
                .text(#"printf '%s\0' "#), .value(value), .text(" '"), .value(value), .text(#"' ""#), .value(value), .text(#"""#),
            ]
            let rendered = try CommandTemplate(segments: segments).render(inputPaths: [:], outputPaths: [:])
            #expect(try scratch.run(rendered).fields == Self.words(value) + [value, value])
            #expect(!FileManager.default.fileExists(atPath: scratch.marker))
        }
    }

    /// Templates where bash reads the text differently from a scanner that overlooks one of its
    /// rules (`$$` before a quote, `#` or `(` after a value, backslash-newline, a reserved word, `$( )`
    /// in `${ }`, a `$'...'` delimiter, escapes running into a value, a line that would end a
    /// here-document inside its body's `$( )`, nested here-documents): each is refused, or rendered so that the hostile value runs nothing and the
    /// program sees `expected`.
    @Test(arguments: [
        ("$$ before a quote", [.text(#"printf '%s\0' $$'a\' "#), .value("$(touch${IFS}MARKER)"), .text(" '' #'")], ["<anything>"]),
        ("# right after a value", [.text("echo "), .value(""), .text("#'"), .value("\nx=1;touch MARKER;\n"), .text("'")], nil),
        ("backslash-newline before #", [.text("echo a\\\n#'"), .value("$(touch${IFS}MARKER)"), .text(" '' #'")], nil),
        ("backslash-newline in a here-document", [.text("cat <<EOF\nabc\\\nEOF\n"), .value("$(touch${IFS}MARKER)"), .text("\nEOF\n")], nil),
        ("$'EOF' delimiter", [.text("cat <<$'EOF'\nEOF\n"), .value("$(touch MARKER)"), .text("\n$EOF\n")], nil),
        (
            "a reserved word as a value in $( )",
            [.text(#"printf '%s\0' "$("#), .value("case"), .text(" x in x) echo "), .value("')\";touch MARKER;#"), .text(#";; esac)""#)],
            ["<anything>"]
        ),
        ("$( ) inside ${ }", [.text(#"printf '%s\0' "${x:-$(echo })}" '"#), .value("a'b"), .text("'")], ["}", "a'b"]),
        ("an escape before a value", [.text(#"printf '%s\0' $'\x2"#), .value("7;touch MARKER;x"), .text("'")], ["\u{2}7;touch MARKER;x"]),
        ("a line continuation after a blank", [.text("printf '%s\\0' a \\\n  "), .value("b c"), .text(" \\\nd")], ["a", "b", "c", "d"]),
        ("a value line equal to an expanding here-document's delimiter", [
            .text("cat <<EOF\n"), .value("EOF"), .text("\n"), .value("x=1;touch MARKER;"), .text("\nEOF\n"),
        ], ["EOF\nx=1;touch MARKER;\n"]),
        ("a value in \"...\" in $( ) in a here-document", [
            .text("cat <<EOF\n$(printf %s \""), .value("x\nEOF\nx=1;touch MARKER;#"), .text("\")\nEOF\n"),
        ], ["x\nEOF\nx=1;touch MARKER;#\n"]),
        ("( right after a value", [.text("f"), .value(""), .text("() { echo; }")], nil),
        ("a delimiter line inside $( ) in a here-document", [
            .text("cat <<EOF\n$(echo '\nEOF\n')\nEOF\necho "), .value("$(touch${IFS}MARKER)"), .text(" #'"),
        ], nil),
        ("a here-document inside another's body", [
            .text("cat <<A\n$(cat <<'B'\nA\n"), .value("x;touch MARKER;#"), .text("\nB\n)\nA\n"),
        ], nil),
        ("an escaped blank before #", [.text("printf '%s\\0' a\\ #'\n"), .value("$(touch${IFS}MARKER)"), .text("\n'")], ["a #\n$(touch${IFS}MARKER)\n"]),
    ] as [(String, [CommandTemplate.Segment], [String]?)])
    func templatesThatMisleadANaiveScannerAreRefusedOrSafe(name: String, segments: [CommandTemplate.Segment], expected: [String]?) throws {
        let scratch = try Scratch()
        let segments = segments.map { segment -> CommandTemplate.Segment in
            guard case .value(let value) = segment else { return segment }
            return .value(value.replacingOccurrences(of: "MARKER", with: scratch.marker))
        }
        let template = CommandTemplate(segments: segments)
        guard let expected else {
            #expect(throws: CommandTemplateError.self, "\(name)") { try template.render(inputPaths: [:], outputPaths: [:]) }
            return
        }
        let rendered = try template.render(inputPaths: [:], outputPaths: [:])
        let (fields, _, _) = try scratch.run(rendered)
        #expect(!FileManager.default.fileExists(atPath: scratch.marker), "\(name): \(rendered.command)")
        if expected != ["<anything>"] {
            #expect(fields == expected.map { $0.replacingOccurrences(of: "MARKER", with: scratch.marker) }, "\(name): \(rendered.command)")
        }
    }

    @Test func plainValuesStayPlainWordsForTheWorkersFastPath() throws {
        let template = CommandTemplate(segments: [
            .text("python train.py --lr "), .value("1e-3"), .text(" --data "), .inputPath("d"), .text(" --out="), .outputPath("m"),
        ])
        let rendered = try template.render(inputPaths: ["d": "/w/in/d"], outputPaths: ["m": "/w/out/m"])
        #expect(rendered.command == "python train.py --lr 1e-3 --data /w/in/d --out=/w/out/m")
        #expect(rendered.environment.isEmpty)
        // Other words are quoted, glob characters included; an empty value adds no argument.
        let quoted = try CommandTemplate(segments: [.text("run "), .value("a*b it's"), .text(" "), .value(""), .text(" x=1 "), .value("K=v")])
            .render(inputPaths: [:], outputPaths: [:])
        #expect(quoted.command == #"run 'a*b' 'it'\''s'  x=1 'K=v'"#)
    }

    @Test func aValueLineEqualToTheHeredocDelimiterCannotEndIt() throws {
        let template = CommandTemplate(segments: [.text("cat <<'EOF'\n"), .value("EOF\ntouch x\nEOF_1"), .text("\nEOF\nprintf '\\0'")])
        let rendered = try template.render(inputPaths: [:], outputPaths: [:])
        #expect(rendered.command == "cat <<'EOF_2'\nEOF\ntouch x\nEOF_1\nEOF_2\nprintf '\\0'")
        #expect(try Scratch().run(rendered).fields == ["EOF\ntouch x\nEOF_1\n"])
    }

    @Test func anOptionalSegmentWithoutReferencesReachesTheProgramLiterally() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: printf '%s\\0' $[[inputs.legacy]] '$[[x y]]'
            """)
        let rendered = try plan.steps[0].command.render(inputPaths: [:], outputPaths: [:])
        #expect(try Scratch().run(rendered).fields == ["$[[inputs.legacy]]", "$[[x y]]"])
    }

    @Test func anUnterminatedQuoteIsRefusedWhenThePipelineLoads() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo "it's ${{inputs.x}}
                inputs: {x: 1}
            """))
        #expect(error.code == .commandQuoting)
        #expect(error.field == "jobs.a.command")
        #expect(error.message.contains("the double quote that starts at"))
        #expect(error.message.contains("never closed"))
    }

    @Test(arguments: [
        ("echo `cat ", "`", CommandTemplateError.Code.unsupportedPlace, "backquotes"),
        ("echo ${X:-", "}", .unsupportedPlace, "inside ${ }"),
        ("echo \\", "", .unsupportedPlace, "backslash"),
        ("echo $", "", .unsupportedPlace, "right after a $"),
        ("echo 'a", "", .unterminated, "single quote"),
        ("echo $'a", "", .unterminated, "$'...' quote"),
        ("echo $(echo ", "", .unterminated, "$( )"),
        ("echo $(case a in a) echo ", ";; esac)", .unsupportedPlace, "case statement"),
        ("echo $(( 1 + ", "", .unterminated, "arithmetic"),
        ("cat <<", "\nx\n", .unsupportedPlace, "delimiter"),
    ])
    func commandsWhoseQuotingCannotBeFollowedAreRefused(before: String, after: String, code: CommandTemplateError.Code, words: String) {
        let template = CommandTemplate(segments: [.text(before), .value("v"), .text(after)])
        #expect {
            try template.render(inputPaths: [:], outputPaths: [:])
        } throws: { error in
            guard let error = error as? CommandTemplateError else { return false }
            return error.code == code && error.message.contains(words)
        }
        #expect(throws: CommandTemplateError.self) { try template.validate() }
    }

    @Test func arithmeticTakesIntegersOnly() throws {
        let template = { (value: String) in
            CommandTemplate(segments: [.text("printf '%s\\0' $(( "), .value(value), .text(" + 1 )) $[ "), .value(value), .text(" ]")])
        }
        let rendered = try template("-12").render(inputPaths: [:], outputPaths: [:])
        #expect(try Scratch().run(rendered).fields == ["-11", "-12"])
        let scratch = try Scratch()
        #expect(throws: CommandTemplateError.self) {
            try template("a[$(touch \(scratch.marker))]").render(inputPaths: [:], outputPaths: [:])
        }
        #expect(throws: CommandTemplateError.self) {
            try CommandTemplate(segments: [.text("((i = "), .inputPath("d"), .text("))")]).validate()
        }
    }

    @Test func aCommandWithoutValuesIsPassedOnAsWritten() throws {
        let text = "echo 'unterminated `and ${odd"
        let rendered = try CommandTemplate(segments: [.text(text)]).render(inputPaths: [:], outputPaths: [:])
        #expect(rendered.command == text)
    }
}
