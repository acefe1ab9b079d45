import Foundation
import Glibc
import Testing

@testable import Artifacts

@Suite("Snapshots and materialization")
struct SnapshotTests {
    func makeProject(_ dir: TemporaryDirectory) throws -> String {
        try dir.write("project/main.py", "print('hi')\n")
        try dir.write("project/lib/util.py", "X = 1\n")
        try dir.write("project/run.sh", "#!/bin/sh\necho run\n", mode: 0o755)
        try dir.write("project/data/copy.txt", "print('hi')\n")  // same content as main.py
        try dir.makeDirectory("project/outputs/empty")
        return dir.at("project")
    }

    @Test func sameContentDifferentMtimeSameDigest() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let root = try makeProject(dir)
        let first = try Snapshot.folder(at: root, store: nil)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, dir.at("project/main.py"), &times, 0) == 0)
        chmod(dir.at("project/lib/util.py"), 0o600)  // non-execute bits are not recorded
        let second = try Snapshot.folder(at: root, store: nil)
        #expect(first.digest == second.digest)
        #expect(first.entries.map(\.path) == ["data/copy.txt", "lib/util.py", "main.py", "outputs/empty", "run.sh"])
        #expect(first.entries.first { $0.path == "run.sh" }?.isExecutable == true)
        #expect(first.entries.first { $0.path == "main.py" }?.isExecutable == false)

        try dir.write("project/main.py", "print('changed')\n")
        #expect(try Snapshot.folder(at: root, store: nil).digest != first.digest)
    }

    @Test func snapshotStoresBlobsAndManifest() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let root = try makeProject(dir)
        let store = try BlobStore(root: dir.at("store"))
        let manifest = try Snapshot.folder(at: root, store: store)
        #expect(Snapshot.missingBlobs(of: manifest, in: store).isEmpty)
        #expect(store.contains(manifest.digest))
        #expect(try store.manifest(manifest.digest) == manifest)
        #expect(manifest == (try Snapshot.folder(at: root, store: nil)))

        let file = try Snapshot.file(at: dir.at("project/lib/util.py"), store: store)
        #expect(file.kind == .file)
        #expect(file.entries.map(\.path) == ["util.py"])
        #expect(file.totalSize == 6)
        #expect(try store.manifest(file.digest) == file)
    }

    @Test func missingBlobsChecksPresenceAndSize() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let present = try store.put(Array("abc".utf8))
        let absent = SHA256Hasher.digest(ofUTF8: "zzz")
        let manifest = try TreeManifest(kind: .folder, entries: [
            .file(path: "a", size: 3, digest: present),
            .file(path: "b", size: 3, digest: absent),
            .file(path: "c", size: 4, digest: present),  // wrong size recorded: treated as missing
            .file(path: "d", size: 3, digest: absent),
        ])
        #expect(Snapshot.missingBlobs(of: manifest, in: store) == [absent, present].sorted())
        let error = #expect(throws: ArtifactError.self) {
            try Snapshot.materialize(manifest, from: store, at: dir.at("out"))
        }
        #expect(error?.code == .missingBlobs)
        #expect(!FileManager.default.fileExists(atPath: dir.at("out")))
    }

    @Test func materializeWithHardLinks() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let root = try makeProject(dir)
        let store = try BlobStore(root: dir.at("store"))
        let manifest = try Snapshot.folder(at: root, store: store)
        let destination = dir.at("restored")
        try Snapshot.materialize(manifest, from: store, at: destination)

        let mainDigest = try #require(manifest.entries.first { $0.path == "main.py" }?.digest)
        #expect(inode(dir.at("restored/main.py")) == inode(store.path(of: mainDigest)))
        #expect(inode(dir.at("restored/data/copy.txt")) == inode(store.path(of: mainDigest)))
        #expect(fileMode(dir.at("restored/run.sh")) == 0o755)  // executables are copies
        #expect(inode(dir.at("restored/run.sh")) != inode(store.path(of: manifest.entries.last!.digest!)))
        #expect(try String(contentsOfFile: dir.at("restored/lib/util.py"), encoding: .utf8) == "X = 1\n")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir.at("restored/outputs/empty"), isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
        #expect(try Snapshot.folder(at: destination, store: nil) == manifest)

        // The destination must be new or empty.
        let again = #expect(throws: ArtifactError.self) { try Snapshot.materialize(manifest, from: store, at: destination) }
        #expect(again?.code == .destinationExists)
        try dir.makeDirectory("emptyTarget")
        try Snapshot.materialize(manifest, from: store, at: dir.at("emptyTarget"))

        // A file artifact materializes at a file path.
        let file = try Snapshot.file(at: dir.at("project/run.sh"), store: store)
        try Snapshot.materialize(file, from: store, at: dir.at("inputs/x/script.sh"))
        #expect(fileMode(dir.at("inputs/x/script.sh")) == 0o755)
        #expect(try String(contentsOfFile: dir.at("inputs/x/script.sh"), encoding: .utf8) == "#!/bin/sh\necho run\n")
    }

    @Test func materializeRefusesEscapes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try BlobStore(root: dir.at("store"))
        let digest = try store.put(Array("payload".utf8))
        // A hostile manifest arriving as text or JSON never becomes a TreeManifest.
        for path in ["../escape", "a/../../escape", "/tmp/escape"] {
            let text = "conduit-tree-v1 folder\nf 644 7 \(digest) \(path)\n"
            let error = #expect(throws: ArtifactError.self) { try TreeManifest.parse(canonicalText: text) }
            #expect(error?.code == .unsafePath)
        }
        // An existing symlink inside an (empty-looking) destination is never followed.
        try dir.makeDirectory("outside")
        try dir.makeDirectory("dest")
        let manifest = try TreeManifest(kind: .folder, entries: [.file(path: "link/file", size: 7, digest: digest)])
        try dir.makeDirectory("dest2")
        #expect(symlink(dir.at("outside"), dir.at("dest2/link")) == 0)
        let error = #expect(throws: ArtifactError.self) { try Snapshot.materialize(manifest, from: store, at: dir.at("dest2")) }
        #expect(error?.code == .destinationExists)
        try Snapshot.materialize(manifest, from: store, at: dir.at("dest"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("outside")).isEmpty)
    }

    @Test func symlinkPolicy() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("root/real.txt", "real\n")
        try dir.write("secret.txt", "secret\n")
        #expect(symlink("real.txt", dir.at("root/alias.txt")) == 0)
        let manifest = try Snapshot.folder(at: dir.at("root"), store: nil)
        #expect(manifest.entries.map(\.path) == ["alias.txt", "real.txt"])
        #expect(manifest.entries[0].digest == manifest.entries[1].digest)

        #expect(symlink(dir.at("secret.txt"), dir.at("root/leak.txt")) == 0)
        let outside = #expect(throws: ArtifactError.self) { try Snapshot.folder(at: dir.at("root"), store: nil) }
        #expect(outside?.code == .symlinkRejected)
        try dir.write("root/.amlignore", "leak.txt\n")
        #expect(try Snapshot.folder(at: dir.at("root"), store: nil).entries.count == 3)

        #expect(symlink("nowhere", dir.at("root/dangling")) == 0)
        #expect(throws: ArtifactError.self) { try Snapshot.folder(at: dir.at("root"), store: nil) }
    }
}
