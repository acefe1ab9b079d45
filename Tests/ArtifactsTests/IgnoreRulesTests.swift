import Testing

@testable import Artifacts

@Suite("Ignore rules")
struct IgnoreRulesTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var rules: String
        var path: String
        var isDirectory = false
        var ignored: Bool
        var testDescription: String { "\(rules.debugDescription) \(path)\(isDirectory ? "/" : "") → \(ignored)" }
    }

    @Test(arguments: [
        Case(rules: "*.log", path: "a.log", ignored: true),
        Case(rules: "*.log", path: "deep/er/a.log", ignored: true),
        Case(rules: "*.log", path: "a.logx", ignored: false),
        Case(rules: "# comment\n\n*.log\n!keep.log", path: "keep.log", ignored: false),
        Case(rules: "*.log\n!keep.log", path: "x/keep.log", ignored: false),
        Case(rules: "!keep.log\n*.log", path: "keep.log", ignored: true),  // last rule wins
        Case(rules: "build/", path: "build", isDirectory: true, ignored: true),
        Case(rules: "build/", path: "build", isDirectory: false, ignored: false),
        Case(rules: "build/", path: "src/build", isDirectory: true, ignored: true),
        Case(rules: "/build", path: "build", isDirectory: true, ignored: true),
        Case(rules: "/build", path: "src/build", isDirectory: true, ignored: false),
        Case(rules: "doc/*.txt", path: "doc/a.txt", ignored: true),
        Case(rules: "doc/*.txt", path: "doc/sub/a.txt", ignored: false),
        Case(rules: "doc/*.txt", path: "x/doc/a.txt", ignored: false),
        Case(rules: "**/cache", path: "cache", isDirectory: true, ignored: true),
        Case(rules: "**/cache", path: "a/b/cache", isDirectory: true, ignored: true),
        Case(rules: "data/**", path: "data/x/y.bin", ignored: true),
        Case(rules: "data/**", path: "data", isDirectory: true, ignored: false),
        Case(rules: "a/**/b", path: "a/b", ignored: true),
        Case(rules: "a/**/b", path: "a/x/y/b", ignored: true),
        Case(rules: "a/**/b", path: "a/xb", ignored: false),
        Case(rules: "file?.txt", path: "file1.txt", ignored: true),
        Case(rules: "file?.txt", path: "file10.txt", ignored: false),
        Case(rules: "*.py[co]", path: "m.pyc", ignored: true),
        Case(rules: "*.py[co]", path: "m.py", ignored: false),
        Case(rules: "[!a-c]*.md", path: "d.md", ignored: true),
        Case(rules: "[!a-c]*.md", path: "b.md", ignored: false),
        Case(rules: "\\#notes", path: "#notes", ignored: true),
        Case(rules: "\\!bang", path: "!bang", ignored: true),
        Case(rules: "trailing   ", path: "trailing", ignored: true),
        Case(rules: "*.tmp\r\n", path: "x.tmp", ignored: true),
    ])
    func matches(_ example: Case) {
        let rules = IgnoreRules(parsing: example.rules)
        #expect(rules.isIgnored(example.path, isDirectory: example.isDirectory) == example.ignored)
    }

    @Test func amlignoreWinsOverGitignoreAndIgnoredDirectoriesAreNotEntered() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(".gitignore", "*.csv\n")
        try dir.write(".amlignore", "outputs/\n*.log\n!important.log\n/top.txt\n")
        try dir.write("data.csv", "1,2\n")
        try dir.write("run.log", "x")
        try dir.write("important.log", "y")
        try dir.write("top.txt", "t")
        try dir.write("sub/top.txt", "t")
        try dir.write("outputs/model.bin", "m")
        try dir.write("outputs/important.log", "cannot be re-included")
        try dir.write(".git/HEAD", "ref: x")
        try dir.makeDirectory("emptydir")
        let manifest = try Snapshot.folder(at: dir.path, store: nil)
        #expect(manifest.entries.map(\.path) == [
            ".amlignore", ".gitignore", "data.csv", "emptydir", "important.log", "sub/top.txt",
        ])
        #expect(manifest.entries.first { $0.path == "emptydir" }?.kind == .directory)
    }

    @Test func gitignoreUsedWithoutAmlignore() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(".gitignore", "*.csv\n__pycache__/\n")
        try dir.write("data.csv", "1,2\n")
        try dir.write("main.py", "print(1)\n")
        try dir.write("pkg/__pycache__/m.pyc", "x")
        try dir.write("pkg/m.py", "x")
        let manifest = try Snapshot.folder(at: dir.path, store: nil)
        #expect(manifest.entries.map(\.path) == [".gitignore", "main.py", "pkg/m.py"])
    }
}
