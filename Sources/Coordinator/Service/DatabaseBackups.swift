import Foundation
import Store

/// The coordinator database's backups under `DATA_DIR/backups/`: `conduit-YYYYMMDDTHHMMSS.mmmZ.sqlite`
/// copies taken with `VACUUM INTO` (daily and on a clean shutdown), of which the newest
/// ``keep`` are kept, and the restore that `conduit coordinator --recover` performs.
public struct DatabaseBackups: Sendable {
    /// The backups directory (`DATA_DIR/backups`).
    public let directory: String
    /// How many backups are kept; older ones are deleted after a new one is written. Default 3.
    public let keep: Int
    /// How long after the newest backup the running coordinator takes another; default a day.
    public static let interval: Int64 = 24 * 60 * 60 * 1000

    /// The backups of the data directory `dataDirectory`.
    public init(dataDirectory: String, keep: Int = 3) {
        precondition(keep >= 1, "DatabaseBackups: keep must be at least 1, got \(keep)")
        self.directory = dataDirectory + "/backups"
        self.keep = keep
    }

    /// A backup file and when it was taken.
    public struct Backup: Sendable, Equatable {
        public let path: String
        /// Wall-clock milliseconds since 1970, from the file's name.
        public let takenAt: Int64
    }

    /// The backups present, newest first (files that do not follow the naming are ignored).
    public func list() -> [Backup] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            Self.takenAt(fileName: name).map { Backup(path: directory + "/" + name, takenAt: $0) }
        }.sorted { $0.takenAt > $1.takenAt }
    }

    /// Takes a backup of `store` stamped `now` (wall-clock milliseconds), then deletes all but the newest
    /// ``keep``. Returns the new backup's path.
    @discardableResult
    public func take(of store: ConduitStore, now: Int64) throws -> String {
        let (partial, final) = try prepare(takenAt: now)
        do {
            try store.backup(to: partial)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        return try complete(partial, as: final)
    }

    /// ``take(of:now:)`` without blocking the caller's thread: the copy is made on the database
    /// reader's own thread while the caller is suspended (an actor that awaits it keeps handling
    /// other calls meanwhile). `beforeCopy` runs on that thread just before the copy starts.
    @discardableResult
    public func take(of store: ConduitStore, now: Int64, beforeCopy: @escaping @Sendable () -> Void = {}) async throws -> String {
        let (partial, final) = try prepare(takenAt: now)
        do {
            try await store.backup(to: partial, beforeCopy: beforeCopy)
        } catch {
            // Interrupted (the coordinator stops) or failed: no half-written copy stays behind.
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        return try complete(partial, as: final)
    }

    /// Creates the directory (0700) and clears partial files left by backups a process did not
    /// finish; returns the partial and final paths of a backup taken at `now`.
    private func prepare(takenAt now: Int64) throws -> (partial: String, final: String) {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in (try? fileManager.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".sqlite.partial") {
            try? fileManager.removeItem(atPath: directory + "/" + name)
        }
        let final = directory + "/" + Self.fileName(takenAt: now)
        return (final + ".partial", final)
    }

    /// Gives a written backup its final name, then deletes all but the newest ``keep``.
    private func complete(_ partial: String, as final: String) throws -> String {
        guard rename(partial, final) == 0 else {
            throw CoordinatorError(.storage, "cannot rename \(partial) to \(final): \(String(cString: strerror(errno)))")
        }
        for old in list().dropFirst(keep) { try? FileManager.default.removeItem(atPath: old.path) }
        return final
    }

    /// `conduit-20261207T131500.123Z.sqlite` for a backup taken at `millis`.
    static func fileName(takenAt millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let stamp = String(
            format: "%04d%02d%02dT%02d%02d%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(millis % 1000))
        return "conduit-\(stamp).sqlite"
    }

    /// The time a backup's file name records, or nil for any other name.
    static func takenAt(fileName name: String) -> Int64? {
        guard name.hasPrefix("conduit-"), name.hasSuffix("Z.sqlite") else { return nil }
        let stamp = Array(name.dropFirst("conduit-".count).dropLast("Z.sqlite".count))
        guard stamp.count == 19, stamp[8] == "T", stamp[15] == "." else { return nil }
        func number(_ range: Range<Int>) -> Int32? { Int32(String(stamp[range])) }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), let millis = Int64(String(stamp[16..<19]))
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int64(timegm(&parts)) * 1000 + millis
    }

    /// The size of the file at `path`, or nil when there is none.
    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// A human form of a backup time: `2026-12-07 13:15:00 UTC`.
    public static func describe(_ millis: Int64) -> String {
        let name = fileName(takenAt: millis)
        let s = Array(name.dropFirst("conduit-".count))
        return "\(String(s[0..<4]))-\(String(s[4..<6]))-\(String(s[6..<8])) \(String(s[9..<11])):\(String(s[11..<13])):\(String(s[13..<15])) UTC"
    }
}
