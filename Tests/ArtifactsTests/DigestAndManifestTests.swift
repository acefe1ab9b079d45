import Foundation
import Testing

@testable import Artifacts

@Suite("Digests and hashing")
struct DigestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(input: String, expected: String) throws {
        #expect(SHA256Hasher.digest(of: Array(input.utf8)).hex == expected)
        #expect(SHA256Hasher.digest(of: Data(input.utf8)).hex == expected)
        #expect(SHA256Hasher.digest(of: input.utf8).hex == expected)  // non-contiguous path
    }

    @Test func millionAsStreamedFromFile() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("a", bytes: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        let (digest, size) = try SHA256Hasher.digest(ofFileAt: path)
        #expect(digest.hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(size == 1_000_000)
    }

    @Test func validation() throws {
        let good = String(repeating: "ab", count: 32)
        #expect(Digest(hex: good)?.hex == good)
        #expect(Digest(hex: good.uppercased()) == nil)
        #expect(Digest(hex: String(good.dropLast())) == nil)
        #expect(Digest(hex: good + "0") == nil)
        #expect(Digest(hex: String(repeating: "g", count: 64)) == nil)
        #expect(throws: ArtifactError.self) { try Digest.parse("nope") }
        let json = try JSONEncoder().encode([Digest(hex: good)!])
        #expect(String(decoding: json, as: UTF8.self) == "[\"\(good)\"]")
        #expect(try JSONDecoder().decode([Digest].self, from: json) == [Digest(hex: good)!])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Digest].self, from: Data("[\"ab\"]".utf8)) }
    }
}

@Suite("Tree manifests")
struct TreeManifestTests {
    let a = SHA256Hasher.digest(ofUTF8: "a")
    let b = SHA256Hasher.digest(ofUTF8: "bb")

    func sample() throws -> TreeManifest {
        try TreeManifest(kind: .folder, entries: [
            .file(path: "src/main.py", size: 2, digest: b),
            .file(path: "README.md", size: 1, digest: a),
            .directory(path: "data/empty"),
            .file(path: "bin/run me.sh", size: 1, digest: a, isExecutable: true),
            .file(path: "odd\nname%", size: 2, digest: b),
        ])
    }

    @Test func canonicalTextIsSortedAndEscaped() throws {
        let manifest = try sample()
        #expect(manifest.canonicalText == """
            conduit-tree-v1 folder
            f 644 1 \(a) README.md
            f 755 1 \(a) bin/run me.sh
            d data/empty
            f 644 2 \(b) odd%0Aname%25
            f 644 2 \(b) src/main.py

            """)
        #expect(manifest.totalSize == 6)
        #expect(manifest.digest == SHA256Hasher.digest(ofUTF8: manifest.canonicalText))
    }

    @Test func roundTrips() throws {
        let manifest = try sample()
        let parsed = try TreeManifest.parse(canonicalText: manifest.canonicalText)
        #expect(parsed == manifest)
        #expect(parsed.entries.first { $0.path.hasPrefix("odd") }?.path == "odd\nname%")
        let json = try JSONEncoder().encode(manifest)
        #expect(try JSONDecoder().decode(TreeManifest.self, from: json) == manifest)
        let file = try TreeManifest(kind: .file, entries: [.file(path: "x.csv", size: 1, digest: a)])
        #expect(try TreeManifest.parse(canonicalText: file.canonicalText) == file)
        let empty = try TreeManifest(kind: .folder, entries: [])
        #expect(empty.canonicalText == "conduit-tree-v1 folder\n")
        #expect(try TreeManifest.parse(canonicalText: empty.canonicalText) == empty)
    }

    @Test(arguments: [
        "conduit-tree-v2 folder\n",  // unknown version
        "conduit-tree-v1 folder",  // no final newline
        "conduit-tree-v1 folder\n\n",  // empty line
        "conduit-tree-v1 folder\nf 644 1 A /abs\n",
        "conduit-tree-v1 folder\nf 600 1 A x\n",  // bad mode
        "conduit-tree-v1 folder\nf 644 01 A x\n",  // leading zero
        "conduit-tree-v1 folder\nf 644 -1 A x\n",
        "conduit-tree-v1 folder\nf 644 1 \(String(repeating: "A", count: 64)) x\n",  // uppercase digest
        "conduit-tree-v1 folder\nf 644 1 A /etc/passwd\n",
        "conduit-tree-v1 folder\nf 644 1 A ../escape\n",
        "conduit-tree-v1 folder\nf 644 1 A a/../../escape\n",
        "conduit-tree-v1 folder\nf 644 1 A a/./b\n",
        "conduit-tree-v1 folder\nf 644 1 A a//b\n",
        "conduit-tree-v1 folder\nf 644 1 A a/\n",
        "conduit-tree-v1 folder\nf 644 1 A b\nf 644 1 A a\n",  // unsorted
        "conduit-tree-v1 folder\nf 644 1 A a\nf 644 1 A a\n",  // duplicate
        "conduit-tree-v1 folder\nf 644 1 A a\nf 644 1 A a/b\n",  // file used as a directory
        "conduit-tree-v1 folder\nd a\nf 644 1 A a/b\n",  // non-empty directory entry
        "conduit-tree-v1 folder\nf 644 1 A bad%0a\n",  // lowercase escape
        "conduit-tree-v1 folder\nf 644 1 A bad%41\n",  // needless escape
        "conduit-tree-v1 folder\nf 644 1 A bad%4\n",  // truncated escape
        "conduit-tree-v1 folder\nx 644 1 A a\n",
        "conduit-tree-v1 file\n",  // file kind needs one entry
        "conduit-tree-v1 file\nf 644 1 A dir/x\n",
        "conduit-tree-v1 file\nd x\n",
    ])
    func strictParsingRejects(text: String) {
        let digest = SHA256Hasher.digest(ofUTF8: "a").hex
        let concrete = text.replacingOccurrences(of: " A ", with: " \(digest) ")
        #expect(throws: ArtifactError.self) { try TreeManifest.parse(canonicalText: concrete) }
    }

    @Test func constructionAndDecodingRefuseEscapes() throws {
        #expect(throws: ArtifactError.self) {
            try TreeManifest(kind: .folder, entries: [.file(path: "../evil", size: 1, digest: a)])
        }
        #expect(throws: ArtifactError.self) {
            try TreeManifest(kind: .folder, entries: [.file(path: "/etc/cron.d/x", size: 1, digest: a)])
        }
        let json = """
            {"kind":"folder","entries":[{"kind":"file","path":"a/../../evil","size":1,"digest":"\(a)","executable":false}]}
            """
        #expect(throws: ArtifactError.self) { try JSONDecoder().decode(TreeManifest.self, from: Data(json.utf8)) }
    }
}
