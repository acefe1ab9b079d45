import Artifacts
import Foundation
import Store

/// `conduit store verify`: re-hashes every blob of a stopped coordinator's data directory at a
/// bounded rate, finds the blobs that cache entries need but the store lacks, and with `repair`
/// quarantines the damaged blobs and drops the cache entries that use damaged or missing blobs.
public struct StoreVerification: Sendable {
    /// What a verification found.
    public struct Report: Sendable, Codable, Equatable {
        public var okBlobs = 0
        public var okBytes: Int64 = 0
        /// Blobs whose bytes do not hash to their name (quarantined when repairing).
        public var corrupt: [String] = []
        public var corruptBytes: Int64 = 0
        /// Blobs that cache entries use but the store does not hold.
        public var missing: [String] = []
        /// Cache entries whose outputs use a corrupt or missing blob (dropped when repairing).
        public var brokenCacheEntries = 0
        /// Whether the problems were repaired.
        public var repaired = false

        /// Whether nothing is wrong (or everything found was repaired).
        public var isClean: Bool { (corrupt.isEmpty && missing.isEmpty && brokenCacheEntries == 0) || repaired }
    }

    /// The data directory (`--data-dir` of the coordinator).
    public let dataDirectory: String
    /// Bytes hashed per second at most (so that a check does not starve other work on the disk).
    public let bytesPerSecond: Int64
    /// Whether to quarantine corrupt blobs and drop the cache entries that use bad blobs.
    public let repair: Bool

    public init(dataDirectory: String, bytesPerSecond: Int64, repair: Bool) {
        precondition(bytesPerSecond > 0, "StoreVerification: bytesPerSecond must be positive, got \(bytesPerSecond)")
        self.dataDirectory = dataDirectory
        self.bytesPerSecond = bytesPerSecond
        self.repair = repair
    }

    /// Runs the check, calling `progress` with a line now and then (at most every 2 s).
    ///
    /// - Throws: ``CoordinatorError`` `conflict` while a coordinator holds the directory (stop it
    ///   first: a live coordinator verifies what it serves by itself), `notFound` when the directory
    ///   is not a Conduit data directory, `storage` for a damaged database.
    public func run(progress: (String) -> Void) throws -> Report {
        let fileManager = FileManager.default
        let databasePath = dataDirectory + "/conduit.sqlite"
        guard fileManager.fileExists(atPath: dataDirectory + "/blobs") || fileManager.fileExists(atPath: databasePath) else {
            throw CoordinatorError(.notFound, "\(dataDirectory) is not a Conduit data directory (no conduit.sqlite, no blobs/)")
        }
        let lock: DataDirectoryLock
        do {
            lock = try DataDirectoryLock(directory: dataDirectory)
        } catch let error as CoordinatorError where error.code == .conflict {
            throw CoordinatorError(
                .conflict,
                "a Conduit coordinator is running on \(dataDirectory); `conduit store verify` checks a stopped coordinator's "
                    + "data directory. Stop it (it verifies every blob it serves by itself) and run this again")
        }
        defer { withExtendedLifetime(lock) {} }
        let blobs = try BlobStore(root: dataDirectory + "/blobs")
        var report = Report()
        try hashEverything(in: blobs, into: &report, progress: progress)
        let corrupt = Set(report.corrupt)

        // Cache entries whose outputs use a corrupt or missing blob.
        var brokenKeys: [String] = []
        var missing = Set<String>()
        var store: ConduitStore?
        if fileManager.fileExists(atPath: databasePath) {
            do {
                store = try ConduitStore(path: databasePath)
            } catch let damage as StoreDamage {
                throw CoordinatorError(.storage, "\(damage); restore a backup with `conduit coordinator --data-dir \(dataDirectory) --recover`")
            }
            for entry in try store!.allCacheEntries() {
                let outputs = (try? JSONDecoder().decode([String: String].self, from: Data(entry.outputsJSON.utf8))) ?? [:]
                var broken = false
                for text in outputs.values {
                    guard let digest = Digest(hex: text) else { continue }  // a URI output
                    var needed = [digest]
                    if blobs.contains(digest), !corrupt.contains(text), let manifest = try? blobs.manifest(digest) {
                        needed += manifest.entries.compactMap(\.digest)
                    }
                    for blob in needed where corrupt.contains(blob.hex) || !blobs.contains(blob) {
                        broken = true
                        if !corrupt.contains(blob.hex) { missing.insert(blob.hex) }
                    }
                }
                if broken { brokenKeys.append(entry.key) }
            }
        }
        report.missing = missing.sorted()
        report.brokenCacheEntries = brokenKeys.count
        if repair {
            for text in report.corrupt {
                if let digest = Digest(hex: text) { try blobs.quarantine(digest) }
            }
            for key in brokenKeys { try store?.deleteCacheEntry(key: key) }
            report.repaired = true
        }
        return report
    }

    /// Hashes every stored blob at no more than ``bytesPerSecond``, sorting them into ok and corrupt.
    private func hashEverything(in blobs: BlobStore, into report: inout Report, progress: (String) -> Void) throws {
        let all = blobs.allBlobs().sorted { $0.digest.hex < $1.digest.hex }
        let totalBytes = all.reduce(Int64(0)) { $0 + $1.size }
        let started = ContinuousClock.now
        var lastProgress = started
        var hashed: Int64 = 0
        progress("verifying \(all.count) blobs (\(Self.describe(bytes: totalBytes))) at up to \(Self.describe(bytes: bytesPerSecond))/s")
        for (index, blob) in all.enumerated() {
            var checksum = PrefixChecksum()
            var offset: Int64 = 0
            var readable = true
            while offset < blob.size {
                let bytes: [UInt8]
                do {
                    bytes = try blobs.read(blob.digest, offset: offset, count: Int(min(Int64(1 << 20), blob.size - offset)))
                } catch {
                    readable = false  // vanished or unreadable: counted as corrupt
                    break
                }
                if bytes.isEmpty { break }
                _ = checksum.append(bytes)
                offset += Int64(bytes.count)
                hashed += Int64(bytes.count)
                // Stay under the rate: sleep until the bytes hashed so far are due.
                let due = Duration.milliseconds(hashed * 1000 / bytesPerSecond)
                let elapsed = ContinuousClock.now - started
                if due > elapsed { Thread.sleep(forTimeInterval: Self.seconds(due - elapsed)) }
                if ContinuousClock.now - lastProgress >= .seconds(2) {
                    lastProgress = ContinuousClock.now
                    progress("verified \(index) of \(all.count) blobs, \(Self.describe(bytes: hashed)) of \(Self.describe(bytes: totalBytes))")
                }
            }
            if readable && offset == blob.size && checksum.digest == blob.digest {
                report.okBlobs += 1
                report.okBytes += blob.size
            } else {
                report.corrupt.append(blob.digest.hex)
                report.corruptBytes += blob.size
            }
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `1.5 MiB`, `200 MiB`, `3 B`.
    public static func describe(bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }

    /// Parses a rate such as `200MiB/s`, `1GiB/s`, `500KiB/s` or a plain number of bytes per second.
    public static func parseRate(_ text: String) -> Int64? {
        var body = text.trimmingCharacters(in: .whitespaces)
        if body.hasSuffix("/s") { body.removeLast(2) }
        let units: [(String, Int64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        var multiplier: Int64 = 1
        for (suffix, factor) in units where body.hasSuffix(suffix) {
            body.removeLast(suffix.count)
            multiplier = factor
            break
        }
        guard let value = Double(body.trimmingCharacters(in: .whitespaces)), value > 0, value.isFinite else { return nil }
        let bytes = value * Double(multiplier)
        return bytes >= 1 && bytes < 9e18 ? Int64(bytes) : nil
    }
}
