import Foundation
import Testing

@testable import CLI

/// When progress may redraw in place: a terminal that is neither dumb nor asked for plain output.
struct TerminalOutputTests {
    @Test(arguments: [
        (true, ["TERM": "xterm-256color"], true),
        (false, ["TERM": "xterm-256color"], false),
        (true, ["TERM": "dumb"], false),
        (true, [:], false),
        (true, ["TERM": ""], false),
        (true, ["TERM": "xterm", "NO_COLOR": "1"], false),
        (true, ["TERM": "xterm", "NO_COLOR": ""], true),
    ])
    func redrawingNeedsATerminalThatIsNotDumbAndNoNoColor(isTerminal: Bool, environment: [String: String], expected: Bool) {
        #expect(TerminalOutput.allowsRedrawing(isTerminal: isTerminal, environment: environment) == expected)
    }

    @Test func aDescriptorThatIsNoTerminalIsEightyColumnsWide() throws {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        defer { close(descriptors[0]); close(descriptors[1]) }
        #expect(TerminalOutput.width(of: descriptors[1]) == 80)
    }
}
