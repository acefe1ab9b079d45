import Foundation
import Glibc
import Testing

@testable import Artifacts

/// `ConfinedDirectory` never reaches outside its root: links (absolute or relative, in the middle of a
/// path, as its last component, inside a walked tree) are refused by name, never followed, whether
/// reading, creating folders or writing files; writes land beside existing files.
@Suite("Confined directories")
struct ConfinedDirectoryTests {
    /// A root `store/` and, beside it, `outside/secret.txt` that nothing may read or overwrite.
    struct Layout {
        let temporary = TemporaryDirectory("confined")
        var root: String { temporary.at("store") }
        var outside: String { temporary.at("outside") }

        init() throws {
            try temporary.write("outside/secret.txt", "secret")
            try temporary.makeDirectory("store")
        }

        func link(_ relative: String, to target: String) {
            let path = root + "/" + relative
            try? FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            precondition(symlink(target, path) == 0, "symlink \(path) -> \(target): errno \(errno)")
        }

        func write(_ relative: String, _ text: String) throws {
            try temporary.write("store/" + relative, text)
        }

        func open() throws -> ConfinedDirectory {
            try ConfinedDirectory(path: root, label: "datastore shared")
        }

        /// What `outside/` holds, relative path → content.
        func outsideFiles() -> [String: String] {
            var result: [String: String] = [:]
            let enumerator = FileManager.default.enumerator(atPath: outside)
            while let relative = enumerator?.nextObject() as? String {
                result[relative] = (try? String(contentsOfFile: outside + "/" + relative, encoding: .utf8)) ?? "<dir>"
            }
            return result
        }
    }

    /// Every way of reaching `outside/secret.txt` through a link, with the link's path and target the
    /// refusal must name.
    static let escapes: [(path: String, link: String, target: String)] = [
        ("etc/secret.txt", "etc", "<outside>"),  // absolute link in the middle
        ("up/secret.txt", "up", "../outside"),  // relative link in the middle
        ("a/b/up/secret.txt", "a/b/up", "../../../outside"),  // deeper
        ("secret.txt", "secret.txt", "<outside>/secret.txt"),  // the last component
        ("rel.txt", "rel.txt", "../outside/secret.txt"),
    ]

    @Test(arguments: 0..<escapes.count)
    func readingThroughALinkIsRefusedNamingIt(index: Int) throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        let escape = Self.escapes[index]
        let target = escape.target.replacingOccurrences(of: "<outside>", with: layout.outside)
        layout.link(escape.link, to: target)
        let root = try layout.open()

        let error = #expect(throws: ArtifactError.self) { try root.contents(of: escape.path) }
        #expect(error?.code == .symlinkRejected)
        #expect(error?.message.contains("datastore shared: '\(escape.link)' is a symbolic link to '\(target)'") == true, "\(String(describing: error))")
        #expect(error?.path == layout.root + "/" + escape.link)
        let captured = #expect(throws: ArtifactError.self) { try Snapshot.capture(escape.path, beneath: root, store: nil) }
        #expect(captured?.code == .symlinkRejected)
    }

    @Test(arguments: ["../outside/secret.txt", "a/../../outside/secret.txt", "./secret.txt", "/etc/passwd"])
    func dotsAndAbsolutePathsAreRefused(path: String) throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        try layout.write("a/file.txt", "inside")
        let root = try layout.open()
        let error = #expect(throws: ArtifactError.self) { try root.contents(of: path) }
        #expect(error?.code == .unsafePath, "\(String(describing: error))")
        let written = #expect(throws: ArtifactError.self) { try root.writeFile(path) { _ in } }
        #expect(written?.code == .unsafePath)
        #expect(layout.outsideFiles() == ["secret.txt": "secret"])
    }

    @Test func plainFilesAndFoldersAreReadAndALastComponentLinkIsReportedNotFollowed() throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        try layout.write("data/in.csv", "a,b\n")
        layout.link("data/link.csv", to: "in.csv")
        let root = try layout.open()
        #expect(try root.contents(of: "data//in.csv") == Array("a,b\n".utf8))
        #expect(try root.kind(of: "data") == .directory)
        #expect(try root.kind(of: "data/in.csv") == .regularFile)
        #expect(try root.kind(of: "data/link.csv") == .symbolicLink(target: "in.csv"))
        #expect(try root.kind(of: "data/missing") == nil)
        #expect(try root.kind(of: "missing/deeper") == nil)
        let sub = try root.directory(at: "data")
        #expect(sub.relativePath == "data")
        #expect(try sub.contents(of: "in.csv") == Array("a,b\n".utf8))
    }

    /// An opened directory stays the one that was checked: swapping it for a link afterwards does not
    /// redirect what is read through it.
    @Test func anOpenedDirectoryIsNotRedirectedByALinkPlantedAfterwards() throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        try layout.write("data/secret.txt", "inside")
        let root = try layout.open()
        let data = try root.directory(at: "data")
        #expect(rename(layout.root + "/data", layout.root + "/moved") == 0)
        layout.link("data", to: layout.outside)
        #expect(try data.contents(of: "secret.txt") == Array("inside".utf8))
        #expect(throws: ArtifactError.self) { try root.contents(of: "data/secret.txt") }
    }

    @Test func aLinkInsideAWalkedTreeIsRefusedWhereverItPoints() throws {
        for target in ["<outside>", "../outside/secret.txt", "kept.txt", "."] {
            let layout = try Layout()
            defer { layout.temporary.remove() }
            try layout.write("data/kept.txt", "kept")
            let resolved = target.replacingOccurrences(of: "<outside>", with: layout.outside)
            layout.link("data/sub/link", to: resolved)
            let root = try layout.open()
            let error = #expect(throws: ArtifactError.self) { try Snapshot.capture("data", beneath: root, store: nil) }
            #expect(error?.code == .symlinkRejected, "\(target)")
            #expect(error?.message.contains("'data/sub/link' is a symbolic link to '\(resolved)'") == true, "\(String(describing: error))")
        }
    }

    /// A folder read beneath a root has the manifest the unconfined snapshot gives for the same plain
    /// files (so cache keys do not change), `.git` and empty folders included.
    @Test func aPlainFolderHasTheSameManifestAsTheUnconfinedSnapshot() throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        try layout.write("data/a.txt", "a")
        try layout.temporary.write("store/data/bin/run.sh", "#!/bin/sh\n", mode: 0o755)
        try layout.write("data/.git/HEAD", "ref")
        try layout.temporary.makeDirectory("store/data/empty")
        let root = try layout.open()
        let store = try BlobStore(root: layout.temporary.at("blobs"))
        let confined = try Snapshot.capture("data", beneath: root, store: store)
        let plain = try Snapshot.folder(at: layout.root + "/data", store: nil, honoringIgnoreFiles: false)
        #expect(confined == plain)
        #expect(store.contains(confined.digest))
        let file = try Snapshot.capture("data/bin/run.sh", beneath: root, store: nil)
        #expect(file == (try Snapshot.file(at: layout.root + "/data/bin/run.sh", store: nil)))
    }

    @Test func writingNeverFollowsALinkOnTheWayOrAtTheDestination() throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        layout.link("results", to: layout.outside)  // parent chain
        layout.link("deep/up", to: "../../outside")
        layout.link("report.txt", to: layout.outside + "/secret.txt")  // final component
        let root = try layout.open()
        for path in ["results/new.txt", "results/secret.txt", "deep/up/new.txt", "report.txt"] {
            let error = #expect(throws: ArtifactError.self) {
                try root.writeFile(path) { fd in _ = Glibc.write(fd, "pwned", 5) }
            }
            #expect(error?.code == .symlinkRejected, "\(path): \(String(describing: error))")
        }
        let madeThrough = #expect(throws: ArtifactError.self) { try root.makeDirectories("results/sub") }
        #expect(madeThrough?.code == .symlinkRejected)
        #expect(layout.outsideFiles() == ["secret.txt": "secret"])
        #expect(FileManager.default.fileExists(atPath: layout.root + "/report.txt"), "the link is left, not removed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.root).sorted() == ["deep", "report.txt", "results"])
    }

    @Test func writingReplacesOnlyTheSameNameAndLeavesNoTemporaryFile() throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        try layout.write("out/keep-me.txt", "mine")
        try layout.write("out/a.txt", "old")
        let root = try layout.open()
        try root.writeFile("out/a.txt", mode: 0o755) { fd in _ = Glibc.write(fd, "new", 3) }
        try root.writeFile("out/new/b.txt") { fd in _ = Glibc.write(fd, "b", 1) }
        #expect(try root.contents(of: "out/a.txt") == Array("new".utf8))
        #expect(try root.contents(of: "out/keep-me.txt") == Array("mine".utf8))
        #expect(fileMode(layout.root + "/out/a.txt") == 0o755)
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.root + "/out").sorted() == ["a.txt", "keep-me.txt", "new"])
        try layout.temporary.makeDirectory("store/out/dir")
        let error = #expect(throws: ArtifactError.self) { try root.writeFile("out/dir") { _ in } }
        #expect(error?.code == .destinationExists)
        let failed = #expect(throws: ArtifactError.self) {
            try root.writeFile("out/a.txt") { (_) throws(ArtifactError) in throw ArtifactError(code: .io, message: "boom") }
        }
        #expect(failed?.message == "boom")
        #expect(try root.contents(of: "out/a.txt") == Array("new".utf8), "a failed write leaves the old file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.root + "/out").sorted() == ["a.txt", "dir", "keep-me.txt", "new"])
    }

    /// An artifact written into a folder lands beside what is there; writing it again replaces only the
    /// files it names; a link where the folder goes is refused.
    @Test func anArtifactIsWrittenBesideExistingFiles() throws {
        let layout = try Layout()
        defer { layout.temporary.remove() }
        let store = try BlobStore(root: layout.temporary.at("blobs"))
        try layout.temporary.write("made/a.txt", "one")
        try layout.temporary.write("made/sub/b.txt", "two")
        try layout.temporary.makeDirectory("made/empty")
        let folder = try Snapshot.folder(at: layout.temporary.at("made"), store: store)
        try layout.write("reports/keep-me.txt", "mine")
        try layout.write("reports/a.txt", "stale")
        let root = try layout.open()

        try Snapshot.write(folder, from: store, beneath: root, at: "reports")
        try Snapshot.write(folder, from: store, beneath: root, at: "reports")
        #expect(try root.contents(of: "reports/keep-me.txt") == Array("mine".utf8))
        #expect(try root.contents(of: "reports/a.txt") == Array("one".utf8))
        #expect(try root.contents(of: "reports/sub/b.txt") == Array("two".utf8))
        #expect(try root.kind(of: "reports/empty") == .directory)

        let file = try Snapshot.file(at: layout.temporary.at("made/a.txt"), store: store)
        try Snapshot.write(file, from: store, beneath: root, at: "single/out.txt")
        #expect(try root.contents(of: "single/out.txt") == Array("one".utf8))

        layout.link("linked", to: layout.outside)
        let error = #expect(throws: ArtifactError.self) { try Snapshot.write(folder, from: store, beneath: root, at: "linked") }
        #expect(error?.code == .symlinkRejected)
        #expect(layout.outsideFiles() == ["secret.txt": "secret"])
    }
}
