import Foundation
import Glibc
import Testing

@testable import Artifacts

/// A valid digest for the manifest lines below.
private let hostileDigest = SHA256Hasher.digest(ofUTF8: "a").hex

/// Manifests from clients and workers, materialization and snapshots of step outputs never reach outside
/// their roots: hostile paths are refused naming the problem, existing links are never followed, and links
/// in an output follow the documented policy.
@Suite("Paths stay inside their roots")
struct PathSafetyTests {
    static let digest = hostileDigest

    /// Canonical lines with a hostile path, and a fragment the error must name.
    @Test(arguments: [
        ("f 644 1 \(hostileDigest) /etc/passwd", "is absolute"),
        ("f 644 1 \(hostileDigest) ../escape", "'..' component"),
        ("f 644 1 \(hostileDigest) a/../../escape", "'..' component"),
        ("f 644 1 \(hostileDigest) a/./b", "'.' component"),
        ("f 644 1 \(hostileDigest) .", "'.' component"),
        ("d ..", "'..' component"),
        ("f 644 1 \(hostileDigest) a//b", "empty component"),
        ("f 644 1 \(hostileDigest) a/", "empty component"),
        ("f 644 1 \(hostileDigest) ", "is empty"),
        ("f 644 1 \(hostileDigest) a%00b", "NUL"),
    ])
    func hostilePathsAreRefusedByName(line: String, fragment: String) {
        let text = "conduit-tree-v1 folder\n\(line)\n"
        let error = #expect(throws: ArtifactError.self) { try TreeManifest.parse(canonicalText: text) }
        #expect(error?.code == .unsafePath)
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error)) should say \(fragment)")
    }

    @Test(arguments: [
        ("f 644 1 \(hostileDigest) a\nf 644 1 \(hostileDigest) a", "duplicate path 'a'"),
        ("d a\nd a", "duplicate path 'a'"),
        ("f 644 1 \(hostileDigest) a\nf 644 1 \(hostileDigest) a/b", "'a' is both a file and a directory"),
        ("f 644 1 \(hostileDigest) a\nd a/b", "'a' is both a file and a directory"),
        ("f 644 1 \(hostileDigest) x/a\nf 644 1 \(hostileDigest) x/a/b/c", "'x/a' is both a file and a directory"),
        ("d a\nf 644 1 \(hostileDigest) a/b", "directory entry 'a' is not empty"),
    ])
    func conflictingEntriesAreRefusedByName(lines: String, fragment: String) {
        let text = "conduit-tree-v1 folder\n\(lines)\n"
        let error = #expect(throws: ArtifactError.self) { try TreeManifest.parse(canonicalText: text) }
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error)) should say \(fragment)")
    }

    @Test(arguments: ["a\\u0000b", "/abs", "..", "a/../b", "", "a//b"])
    func jsonManifestsWithHostilePathsAreRefused(path: String) {
        let json = """
            {"kind":"folder","entries":[{"kind":"file","path":"\(path)","size":1,"digest":"\(Self.digest)"}]}
            """
        let error = #expect(throws: ArtifactError.self) { try JSONDecoder().decode(TreeManifest.self, from: Data(json.utf8)) }
        #expect(error?.code == .unsafePath)
    }

    @Test func jsonManifestWithAFileAsAParentIsRefused() {
        let json = """
            {"kind":"folder","entries":[
            {"kind":"file","path":"a","size":1,"digest":"\(Self.digest)"},
            {"kind":"file","path":"a/b","size":1,"digest":"\(Self.digest)"}]}
            """
        let error = #expect(throws: ArtifactError.self) { try JSONDecoder().decode(TreeManifest.self, from: Data(json.utf8)) }
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains("both a file and a directory") == true)
    }

    @Test func materializingAFileNeverWritesThroughAnExistingLink() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        try dir.write("source/model.bin", "weights")
        let manifest = try Snapshot.file(at: dir.at("source/model.bin"), store: store)
        try dir.makeDirectory("inputs")
        // A dangling link where the file goes: following it would create a file outside.
        #expect(symlink(dir.at("outside.bin"), dir.at("inputs/model.bin")) == 0)
        for linking in [true, false] {
            let error = #expect(throws: ArtifactError.self) {
                try Snapshot.materialize(manifest, from: store, at: dir.at("inputs/model.bin"), linking: linking)
            }
            #expect(error?.code == .destinationExists)
        }
        #expect(FileIO.lstat(dir.at("outside.bin")) == nil)
    }

    @Test func materializingAFolderOverALinkIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        try dir.write("source/a/b.txt", "b")
        let manifest = try Snapshot.folder(at: dir.at("source"), store: store)
        try dir.makeDirectory("elsewhere")
        #expect(symlink(dir.at("elsewhere"), dir.at("destination")) == 0)
        let error = #expect(throws: ArtifactError.self) {
            try Snapshot.materialize(manifest, from: store, at: dir.at("destination"))
        }
        #expect(error?.code == .destinationExists)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("elsewhere")).isEmpty)
    }

    @Test func aFileOutputThatIsALinkIsRefusedNamingTheTarget() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        try dir.write("secret.txt", "secret")
        try dir.makeDirectory("outputs")
        #expect(symlink(dir.at("secret.txt"), dir.at("outputs/result.txt")) == 0)
        let error = #expect(throws: ArtifactError.self) {
            try Snapshot.file(at: dir.at("outputs/result.txt"), store: store, followingLinks: false)
        }
        #expect(error?.code == .symlinkRejected)
        #expect(error?.message.contains(dir.at("secret.txt")) == true)
        #expect(store.contains(SHA256Hasher.digest(ofUTF8: "secret")) == false)
        // A file named on the command line may be a link.
        #expect(try Snapshot.file(at: dir.at("outputs/result.txt"), store: nil).entries[0].size == 6)
    }

    @Test func linksInAnOutputFolderFollowThePolicy() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("secret.txt", "secret")
        try dir.write("out/data/real.csv", "1,2\n")
        // Inside the root, to a regular file, relative or absolute: recorded as the file's content.
        #expect(symlink("data/real.csv", dir.at("out/relative.csv")) == 0)
        #expect(symlink(dir.at("out/data/real.csv"), dir.at("out/absolute.csv")) == 0)
        let manifest = try Snapshot.folder(at: dir.at("out"), store: nil, honoringIgnoreFiles: false)
        #expect(manifest.entries.map(\.path) == ["absolute.csv", "data/real.csv", "relative.csv"])
        #expect(Set(manifest.entries.map(\.digest)).count == 1)

        // Leaving the root through `..`, to a directory, or nowhere: refused, naming the link and its target.
        let refusals: [(String, String, String)] = [
            ("data/leak", "../../secret.txt", "points outside the snapshot root"),
            ("dirlink", "data", "does not point to a regular file"),
            ("dangling", "missing.txt", "is dangling"),
        ]
        for (link, target, reason) in refusals {
            #expect(symlink(target, dir.at("out/" + link)) == 0)
            let error = #expect(throws: ArtifactError.self) {
                try Snapshot.folder(at: dir.at("out"), store: nil, honoringIgnoreFiles: false)
            }
            #expect(error?.code == .symlinkRejected)
            #expect(error?.message.contains("'\(link)' -> '\(target)'") == true, "\(String(describing: error))")
            #expect(error?.message.contains(reason) == true, "\(String(describing: error))")
            unlink(dir.at("out/" + link))
        }
    }

    @Test func aFIFOInAnOutputIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.makeDirectory("out")
        #expect(mkfifo(dir.at("out/pipe"), 0o644) == 0)
        let error = #expect(throws: ArtifactError.self) {
            try Snapshot.folder(at: dir.at("out"), store: nil, honoringIgnoreFiles: false)
        }
        #expect(error?.code == .unsupportedFileType)
    }

    @Test func aFileSwappedForALinkIsNotReadThrough() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("secret.txt", "secret")
        try dir.makeDirectory("out")
        #expect(symlink(dir.at("secret.txt"), dir.at("out/file")) == 0)
        // What the walk does after it saw a regular file there: open without following links.
        let error = #expect(throws: ArtifactError.self) {
            try SHA256Hasher.digest(ofRegularFileAt: dir.at("out/file"), followingLinks: false)
        }
        #expect(error?.code == .symlinkRejected)
        let store = try BlobStore(root: dir.at("store"))
        #expect(throws: ArtifactError.self) { try store.importRegularFile(at: dir.at("out/file"), followingLinks: false) }
    }
}
