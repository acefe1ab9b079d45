import Foundation
import Testing
@testable import Spec

/// What must be refused before or while YAML is composed.
struct YAMLSafetyTests {
    @Test func duplicateKeysAreRefusedWithBothLines() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.x}}
                inputs:
                  x: 1
                  x: 2
            """))
        #expect(error.code == .duplicateKey)
        #expect(error.line == 7)
        #expect(error.description.contains("duplicate key 'x'"))
        #expect(error.description.contains("first defined at line 6"))
    }

    @Test func quotedAndPlainSpellingsOfAKeyAreDuplicates() throws {
        let error = try #require(try Fixture.error("type: pipeline\n\"jobs\": {}\njobs: {}\n"))
        #expect(error.code == .duplicateKey)
    }

    @Test(arguments: ["{[a]: b}\n", "? [a, b]\n: c\n", "? {a: 1}\n: c\n", "x: &k [1]\n*k : 2\n"])
    func complexKeysAreRefusedNamingTheLine(_ text: String) throws {
        let error = try #require(try Fixture.error(text))
        #expect(error.code == .complexKey)
        #expect(error.description.contains("line"))
        #expect(error.line != nil)
    }

    @Test func aliasOfAScalarMayBeAKey() throws {
        let plan = try Fixture.load("""
            type: pipeline
            name_key: &n greeting
            inputs:
              *n : hi
            jobs:
              a:
                command: echo ${{inputs.g}}
                inputs: {g: "${{parent.inputs.greeting}}"}
            """)
        #expect(plan.steps[0].parameters["g"] == "hi")
    }

    @Test func aliasBombIsRefusedQuickly() throws {
        var text = "type: pipeline\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
        let names = ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
        var previous = "a"
        for name in names {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
            previous = name
        }
        text += "jobs: {a: {command: echo}}\n"
        let fixture = try Fixture(["pipeline.yml": text])
        let start = ContinuousClock.now
        let error = try #require(fixture.error())
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(error.code == .aliasLimit)
        #expect(error.description.contains("alias"))
    }

    @Test func aliasKeyOfAHugeSequenceIsRefusedWithoutHashingIt() throws {
        var text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for (name, previous) in zip(["b", "c", "d", "e", "f", "g"], ["a", "b", "c", "d", "e", "f"]) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        text += "? *g\n: 1\n"
        let fixture = try Fixture(["pipeline.yml": text])
        let start = ContinuousClock.now
        let error = try #require(fixture.error())
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(error.code == .aliasLimit || error.code == .complexKey)
    }

    @Test func modestAliasesAndMergeKeysWork() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a: &base
                command: echo ${{inputs.x}}
                environment: {image: python}
                inputs: {x: 1}
              b:
                <<: *base
                inputs: {x: 2}
            """)
        #expect(plan.steps.map(\.preview) == ["echo 1", "echo 2"])
        #expect(plan.step("b")?.environment == #"{"image":"python"}"#)
    }

    @Test func deepNestingIsRefused() throws {
        let error = try #require(try Fixture.error(String(repeating: "[", count: 500) + String(repeating: "]", count: 500)))
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("nested"))
    }

    @Test func hugeFilesAreRefusedUnread() throws {
        let fixture = try Fixture()
        let line = "# " + String(repeating: "x", count: 1022) + "\n"
        try fixture.write("pipeline.yml", String(repeating: line, count: 4 * 1024 + 1))
        let error = try #require(fixture.error())
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("4 MiB"))
    }

    @Test func severalDocumentsAreRefused() throws {
        let error = try #require(try Fixture.error("type: pipeline\n---\ntype: pipeline\n"))
        #expect(error.code == .syntax)
        #expect(error.line == 2)
    }

    @Test func syntaxErrorsNameTheLine() throws {
        let error = try #require(try Fixture.error("type: pipeline\njobs:\n  a: [unclosed\n  b: 1\n"))
        #expect(error.code == .syntax)
        #expect(error.line != nil)
        #expect(error.description.hasPrefix(error.file + ":"))
    }

    @Test func unknownTagsAreRefused() throws {
        let error = try #require(try Fixture.error("type: !!python/object:os.system pipeline\njobs: {}\n"))
        #expect(error.code == .invalidType)
        #expect(error.description.contains("tag"))
    }

    @Test func explicitTagsAreHonoured() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.s}} ${{inputs.f}}
                inputs: {s: !!str 012, f: !!float 3}
            """)
        #expect(plan.steps[0].preview == "echo 012 3.0")
    }

    @Test func missingFileIsReported() {
        let error = #expect(throws: SpecError.self) { try PipelineLoader.load(file: "/nonexistent/pipeline.yml") }
        #expect(error?.code == .unreadableFile)
        #expect(error?.file == "/nonexistent/pipeline.yml")
    }

    // MARK: Huge numbers

    /// A 10,000-digit integer literal.
    static let hugeInteger = "9" + String(repeating: "0", count: 9_999)

    /// Integer spellings that do not fit in 64 bits, in every base YAML 1.1 knows.
    static let hugeIntegers = [
        hugeInteger, "-" + hugeInteger, "0x" + String(repeating: "f", count: 10_000),
        "0b" + String(repeating: "1", count: 10_000), "0" + String(repeating: "7", count: 10_000),
        Array(repeating: "59", count: 5_000).joined(separator: ":"), "9_223_372_036_854_775_808",
    ]

    @Test(arguments: hugeIntegers)
    func hugeIntegersInParametersAreRefusedWithAShortMessage(_ literal: String) throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.n}}
                inputs: {n: \(literal)}
            """))
        #expect(error.code == .invalidType)
        #expect(error.line == 5)
        #expect(error.field == "jobs.a.inputs.n")
        #expect(error.message.contains("does not fit in 64 bits"))
        #expect(error.description.count < 300, "the message repeats the literal: \(error.description.prefix(300))")
    }

    @Test(arguments: [hugeInteger, "1e999999", "1.0e+999999", "-1.0e+999999", ".inf", "!!float 1e999999", "!!int \(hugeInteger)"])
    func hugeOrInfiniteTimeoutsAreRefused(_ literal: String) throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo
                limits: {timeout: \(literal)}
            """))
        #expect(error.code == .invalidType)
        #expect(error.field == "jobs.a.limits.timeout")
        #expect(error.description.count < 300)
    }

    @Test func hugeNumbersAgainstDeclaredTypesAreRefused() throws {
        let fixture = try Fixture([
            "component.yml": """
                type: command
                command: echo ${{inputs.count}} ${{inputs.rate}}
                inputs:
                  count: {type: integer, default: 1}
                  rate: {type: number, max: 1}
                """,
            "pipeline.yml": """
                type: pipeline
                inputs:
                  big: \(Self.hugeInteger)
                jobs:
                  a:
                    component: file:./component.yml
                    inputs: {count: 2, rate: 0.5}
                """,
        ])
        let topLevel = try #require(fixture.error())
        #expect(topLevel.code == .invalidType)
        #expect(topLevel.field == "inputs.big")

        try fixture.write("pipeline.yml", """
            type: pipeline
            jobs:
              a:
                component: file:./component.yml
                inputs: {count: 2, rate: 1.0e+999999}
            """)
        let infinite = try #require(fixture.error())
        #expect(infinite.code == .outOfRange)
        #expect(infinite.field == "jobs.a.inputs.rate")

        try fixture.write("pipeline.yml", """
            type: pipeline
            inputs:
              n: 2
            jobs:
              a:
                component: file:./component.yml
                inputs: {count: "${{parent.inputs.n}}", rate: 0.5}
            """)
        #expect(fixture.error() == nil)
        let overridden = try #require(fixture.error(overrides: ["inputs.n=\(Self.hugeInteger)"]))
        #expect(overridden.description.count < 300)
    }

    @Test func aTenThousandDigitFloatIsInfinityAsInPython() throws {
        // PyYAML reads it as float('inf'); Conduit does the same, and an untyped parameter renders as Python would.
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.x}}
                inputs: {x: \(Self.hugeInteger).5}
            """)
        #expect(plan.steps[0].preview == "echo inf")
    }
}
