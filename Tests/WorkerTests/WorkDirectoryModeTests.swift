import Foundation
import Glibc
import TestKit
import Testing
import Transport
import Worker

/// A work directory Conduit creates holds steps' inputs, outputs and logs: only its owner may read it.
@Suite struct WorkDirectoryModeTests {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    @Test func aWorkDirectoryConduitCreatesIsOwnerOnly() throws {
        let parent = try ProcessHarness.temporaryDirectory("conduit-workdir")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let previous = umask(0o022)  // the usual umask: without explicit modes these would be 0755
        defer { umask(previous) }
        let directory = parent + "/work"
        let worker = try WorkerService(
            configuration: WorkerConfiguration(name: "w", labels: [], slots: 1, workDirectory: directory),
            transport: InMemoryNetwork().connectWorker(identity: "w-1"))
        for path in [directory, directory + "/attempts", directory + "/cache", directory + "/cache/checkouts", directory + "/cache/blobs"] {
            #expect(Self.mode(path) == 0o700, "\(path)")
        }
        withExtendedLifetime(worker) {}
    }
}
