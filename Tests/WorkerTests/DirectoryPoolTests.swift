import Foundation
import Testing
@testable import Worker

@Suite struct DirectoryPoolTests {
    @Test func recycledDirectoriesComeBackEmptyAndFilesAreDeleted() throws {
        let root = NSTemporaryDirectory() + "pool-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var pool = DirectoryPool(spareRoot: root + "/spare", capacity: 2)
        try pool.makeDirectory(root + "/a")
        try pool.makeDirectory(root + "/a/outputs")
        try pool.makeDirectory(root + "/a/outputs/model")
        try "weights".write(toFile: root + "/a/outputs/model/w.bin", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/a/link", withDestinationPath: "/etc")
        pool.recycle(root + "/a")
        #expect(!FileManager.default.fileExists(atPath: root + "/a"))
        #expect(FileManager.default.fileExists(atPath: "/etc/hostname"), "a symlink is removed, never followed")
        // Two directories kept (capacity 2), the third removed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spare").count == 2)
        try pool.makeDirectory(root + "/b")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/b").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spare").count == 1)
        // A new pool over the same spare folder finds the leftover spare.
        var again = DirectoryPool(spareRoot: root + "/spare")
        try again.makeDirectory(root + "/c")
        try again.makeDirectory(root + "/d")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spare").isEmpty)
        #expect(throws: WorkerError.self) { try again.makeDirectory(root + "/missing/parent") }
    }
}
