import Foundation
import Store

/// `conduit coordinator --recover`: puts the newest backup that passes `PRAGMA quick_check` in
/// place of the coordinator's database, moving the damaged database aside (never deleting it).
/// When no backup passes (or there is none), it starts a fresh database instead, keeping the blobs
/// and step logs in place, and says what was lost.
public enum DatabaseRecovery {
    /// What a recovery did, for the operator.
    public struct Outcome: Sendable {
        /// The backup restored; nil when none passed the check and a fresh database was started.
        public let backup: DatabaseBackups.Backup?
        /// Where the replaced database went (nil when there was none).
        public let movedAside: String?
        /// Backups skipped because they failed the check, with why.
        public let skipped: [(path: String, problem: String)]
        /// The data directory recovered.
        public let dataDirectory: String
        /// With a fresh database: the blobs and step logs left in place.
        public let keptBlobs: Int
        public let keptLogs: Int

        /// What was restored, from when, and where the old database is; with a fresh database, what
        /// was lost, what was kept and what the operator has to do (one line each).
        public var summary: String {
            guard let backup else { return freshSummary }
            var text = "restored the database from \(backup.path), taken \(DatabaseBackups.describe(backup.takenAt))"
            text += "; runs, cache entries and worker keys recorded after that are not in it"
            if let movedAside { text += "; the database it replaced was moved to \(movedAside)" }
            for skip in skipped { text += "; skipped \(skip.path) (\(skip.problem))" }
            return text
        }

        private var freshSummary: String {
            let found = skipped.isEmpty
                ? "there is no backup under \(dataDirectory)/backups"
                : "no backup under \(dataDirectory)/backups passes quick_check (\(skipped.map { "\($0.path): \($0.problem)" }.joined(separator: "; ")))"
            var lines = ["\(found); started a fresh database at \(dataDirectory)/conduit.sqlite"]
            lines.append(
                "lost: the run history (runs, steps, attempts and their events), the cache index (every step runs again on its "
                    + "next submission), and the worker allow-list")
            lines.append(
                "kept in place: \(keptBlobs) blobs under \(dataDirectory)/blobs (outputs made again with the same bytes are not "
                    + "uploaded again) and \(keptLogs) step logs under \(dataDirectory)/logs")
            if let movedAside { lines.append("the damaged database was moved to \(movedAside) (nothing was deleted)") }
            lines.append("to do: allow each worker's key again (`conduit workers allow NAME.public --name NAME`); workers of a --plaintext coordinator need nothing")
            return lines.joined(separator: "\n")
        }
    }

    /// Restores the newest intact backup of `dataDirectory` (whose coordinator must be stopped: the
    /// directory's lock is taken for the duration), or, when no backup passes the check, moves the
    /// damaged database aside and starts a fresh one beside the blobs and logs.
    ///
    /// - Throws: ``CoordinatorError`` `conflict` when a coordinator holds the directory or the database
    ///   passes the check (nothing to recover), `storage` when a file cannot be moved or written.
    public static func recover(dataDirectory: String, now: Int64) throws -> Outcome {
        let lock = try DataDirectoryLock(directory: dataDirectory)
        defer { withExtendedLifetime(lock) {} }
        let database = dataDirectory + "/conduit.sqlite"
        let size = DatabaseBackups.fileSize(database)
        if let size, size > 0, ConduitStore.quickCheck(path: database) == nil {
            throw CoordinatorError(
                .conflict,
                "\(database) passes quick_check: --recover replaces only a damaged, empty or missing database; start without it")
        }
        let backups = DatabaseBackups(dataDirectory: dataDirectory)
        var skipped: [(path: String, problem: String)] = []
        var chosen: DatabaseBackups.Backup?
        for backup in backups.list() {
            if let problem = ConduitStore.quickCheck(path: backup.path) {
                skipped.append((backup.path, problem))
                continue
            }
            chosen = backup
            break
        }
        let movedAside = try moveAside(database, now: now)
        guard let chosen else {
            do {
                _ = try ConduitStore(path: database)  // created (0600) and migrated, then closed
            } catch {
                throw CoordinatorError(.storage, "cannot create a fresh database at \(database): \(error)")
            }
            return Outcome(
                backup: nil, movedAside: movedAside, skipped: skipped, dataDirectory: dataDirectory,
                keptBlobs: countFiles(under: dataDirectory + "/blobs/blobs", depth: 2),
                keptLogs: countFiles(under: dataDirectory + "/logs", depth: 1))
        }
        let fileManager = FileManager.default
        let partial = database + ".restoring"
        try? fileManager.removeItem(atPath: partial)
        try fileManager.copyItem(atPath: chosen.path, toPath: partial)
        chmod(partial, 0o600)
        let descriptor = open(partial, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        guard rename(partial, database) == 0 else {
            throw CoordinatorError(.storage, "cannot rename \(partial) to \(database): \(String(cString: strerror(errno)))")
        }
        return Outcome(backup: chosen, movedAside: movedAside, skipped: skipped, dataDirectory: dataDirectory, keptBlobs: 0, keptLogs: 0)
    }

    /// Moves the database at `database` (with its `-wal` and `-shm`) to `conduit.sqlite.damaged-TIMESTAMP`;
    /// returns where, or nil when there was none.
    private static func moveAside(_ database: String, now: Int64) throws -> String? {
        let fileManager = FileManager.default
        let aside = database + ".damaged-" + DatabaseBackups.fileName(takenAt: now).dropFirst("conduit-".count).dropLast(".sqlite".count)
        // A write-ahead log left without its database would be replayed into the fresh one.
        let leftovers = ["-wal", "-shm"].filter { fileManager.fileExists(atPath: database + $0) }
        guard fileManager.fileExists(atPath: database) || !leftovers.isEmpty else { return nil }
        do {
            if fileManager.fileExists(atPath: database) { try fileManager.moveItem(atPath: database, toPath: aside) }
            for suffix in leftovers {
                try fileManager.moveItem(atPath: database + suffix, toPath: aside + suffix)
            }
        } catch {
            throw CoordinatorError(.storage, "cannot move the damaged database \(database) aside to \(aside): \(error.localizedDescription)")
        }
        return aside
    }

    /// The regular files `depth` levels below `directory` (blobs sit in `blobs/blobs/ab/HASH`, logs in
    /// `logs/ATTEMPT.log`).
    static func countFiles(under directory: String, depth: Int) -> Int {
        let fileManager = FileManager.default
        let names = (try? fileManager.contentsOfDirectory(atPath: directory)) ?? []
        guard depth > 1 else {
            return names.filter { name in
                var info = stat()
                return lstat(directory + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            }.count
        }
        return names.reduce(0) { $0 + countFiles(under: directory + "/" + $1, depth: depth - 1) }
    }
}
