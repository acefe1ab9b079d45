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
}
