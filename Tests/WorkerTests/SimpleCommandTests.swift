import Foundation
import Testing
import Spec
import Worker

@Suite struct SimpleCommandTests {
    @Test(arguments: [
        ("/bin/true", ["/bin/true"]),
        ("python3 train.py --lr 0.1 --data /a/b.csv", ["python3", "train.py", "--lr", "0.1", "--data", "/a/b.csv"]),
        ("  env\t-0  ", ["env", "-0"]),
        ("cp -r a:b x,y@z%1+2", ["cp", "-r", "a:b", "x,y@z%1+2"]),
    ])
    func plainSimpleCommandsAreSplitIntoWords(command: String, words: [String]) {
        #expect(SimpleCommand.words(of: command) == words)
    }

    @Test func aCommandRenderedFromPlainValuesKeepsTheFastPath() throws {
        let template = CommandTemplate(segments: [
            .text("python3 train.py --lr "), .value("0.1"), .text(" --data "), .inputPath("d"), .text(" --out "), .outputPath("m"),
        ])
        let rendered = try template.render(inputPaths: ["d": "/w/in/d.csv"], outputPaths: ["m": "/w/out/m"])
        #expect(SimpleCommand.words(of: rendered.command) == ["python3", "train.py", "--lr", "0.1", "--data", "/w/in/d.csv", "--out", "/w/out/m"])
        // A value with a space or a quote is quoted, and the command goes to bash.
        let quoted = try template.render(inputPaths: ["d": "/w/in/it's.csv"], outputPaths: ["m": "/w/out/m"])
        #expect(SimpleCommand.words(of: quoted.command) == nil)
    }

    @Test(arguments: [
        "", "   ", "echo hi", "true", "cd /tmp", "exit 3", "A=1 env", "ls *.txt", "ls ~", "cat a > b", "a | b", "a; b",
        "a && b", "echo $HOME", "echo \"x\"", "echo 'x'", "a\nb", "sleep 1 &", "ls {a,b}", "ls [ab]", "ls a?", "f(x)",
        "echo `date`", "# comment", "ls !x", "test -f x", "[ -f x ]", "time ls",
    ])
    func anythingBashWouldInterpretStaysWithBash(command: String) {
        #expect(SimpleCommand.words(of: command) == nil, "\(command)")
    }

    @Test func programsResolveLikeBash() throws {
        #expect(SimpleCommand.resolve("env", path: "/nonexistent:/usr/bin:/bin", workingDirectory: "/") == "/usr/bin/env")
        #expect(SimpleCommand.resolve("no-such-program-anywhere", path: "/usr/bin:/bin", workingDirectory: "/") == nil)
        #expect(SimpleCommand.resolve("/bin/sh", path: nil, workingDirectory: "/") == "/bin/sh")
        let directory = NSTemporaryDirectory() + "simple-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "#!/bin/sh\n".write(toFile: directory + "/tool", atomically: true, encoding: .utf8)
        #expect(SimpleCommand.resolve("./tool", path: nil, workingDirectory: directory) == nil, "not executable yet")
        chmod(directory + "/tool", 0o755)
        #expect(SimpleCommand.resolve("./tool", path: nil, workingDirectory: directory) == directory + "/./tool")
        #expect(SimpleCommand.resolve("tool", path: ":/usr/bin", workingDirectory: directory) == directory + "/tool")
    }

    /// What the program sees when exec'd directly equals what it sees under real `bash -c`.
    @Test(arguments: [[String: String](), ["SHLVL": "4", "PWD": "/elsewhere", "K": "v w"]])
    func directExecSeesWhatBashWouldGiveIt(extra: [String: String]) async throws {
        let directory = NSTemporaryDirectory() + "simple-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root"]
        environment.merge(extra) { _, new in new }
        let command = "env -0"
        #expect(SimpleCommand.words(of: command) != nil)

        let direct = try ChildProcess.launch(command: command, workingDirectory: directory, environment: environment)
        var directOutput: [UInt8] = []
        for await (_, chunk) in direct.output { directOutput += chunk }
        #expect(await direct.wait().succeeded)

        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-c", command]
        bash.environment = environment
        bash.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        bash.standardOutput = pipe
        try bash.run()
        let bashOutput = pipe.fileHandleForReading.readDataToEndOfFile()
        bash.waitUntilExit()

        func variables(_ bytes: some Sequence<UInt8>) -> Set<String> {
            Set(Array(bytes).split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
        }
        #expect(variables(directOutput) == variables(bashOutput))
    }
}
