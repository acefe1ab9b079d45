import Foundation
import Store

/// `conduit coordinator --recover`: puts the newest backup that passes `PRAGMA quick_check` in
/// place of the coordinator's database, moving the damaged database aside (never deleting it).
public enum DatabaseRecovery {
    /// What a recovery did, for the operator.
    public struct Outcome: Sendable {
        /// The backup restored.
        public let backup: DatabaseBackups.Backup
        /// Where the replaced database went (nil when there was none).
        public let movedAside: String?
        /// Backups skipped because they failed the check, with why.
        public let skipped: [(path: String, problem: String)]

        /// One paragraph saying what was restored, from when, and where the old database is.
        public var summary: String {
            var text = "restored the database from \(backup.path), taken \(DatabaseBackups.describe(backup.takenAt))"
            text += "; runs, cache entries and worker keys recorded after that are not in it"
            if let movedAside { text += "; the database it replaced was moved to \(movedAside)" }
            for skip in skipped { text += "; skipped \(skip.path) (\(skip.problem))" }
            return text
        }
    }

    /// Restores the newest intact backup of `dataDirectory` (whose coordinator must be stopped: the
    /// directory's lock is taken for the duration).
    ///
    /// - Throws: ``CoordinatorError`` `conflict` when a coordinator holds the directory or the database
    ///   passes the check (nothing to recover), `storage`
    ///   when no backup passes the check (nothing is changed then).
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
        guard let chosen else {
            throw CoordinatorError(
                .storage,
                "no backup under \(backups.directory) passes quick_check (\(skipped.count) found); nothing was changed. "
                    + "Move \(dataDirectory)/conduit.sqlite aside to start with an empty history")
        }
        let fileManager = FileManager.default
        var movedAside: String?
        if fileManager.fileExists(atPath: database) {
            let aside = database + ".damaged-" + DatabaseBackups.fileName(takenAt: now).dropFirst("conduit-".count).dropLast(".sqlite".count)
            try fileManager.moveItem(atPath: database, toPath: aside)
            for suffix in ["-wal", "-shm"] where fileManager.fileExists(atPath: database + suffix) {
                try fileManager.moveItem(atPath: database + suffix, toPath: aside + suffix)
            }
            movedAside = aside
        }
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
        return Outcome(backup: chosen, movedAside: movedAside, skipped: skipped)
    }
}
