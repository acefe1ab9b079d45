import Artifacts
import Foundation
import Logging

extension CoordinatorService {
    /// Moves a blob whose stored bytes no longer hash to its name to `blobs/quarantine/`, with a log
    /// line saying who found it.
    ///
    /// The cache entries that use it are invalidated by that move: every cache hit checks that its
    /// output blobs are present (`verify(outputs:)`), so the next submission that would have reused
    /// one finds the blob quarantined, deletes the entry, runs the step again and records why
    /// ("cached output blob … failed verification"). The re-run's upload stores the right bytes
    /// under the name again.
    func quarantineDamagedBlob(_ digest: Digest, foundBy: String) {
        do {
            guard let destination = try blobs.quarantine(digest) else { return }
            manifestCache[digest] = nil
            artifactSizes[digest.hex] = nil
            logger.error(
                "blob failed verification while \(foundBy): its bytes do not hash to its name; moved to \(destination). Cache entries that use it are invalid; the steps that made it run again",
                metadata: ["blob": "\(digest.hex)"])
        } catch {
            logger.error("blob failed verification while \(foundBy) and could not be quarantined: \(error)", metadata: ["blob": "\(digest.hex)"])
        }
    }

    /// Quarantines a blob that a reader outside the actor (an HTTP download, a datastore copy) found
    /// damaged, once it is hashed again here and still does not match: the reader may have seen the
    /// file while an upload of the right bytes replaced it.
    public func reportDamagedBlob(_ digest: String, foundBy: String) {
        guard let digest = Digest(hex: digest) else { return }
        if (try? blobs.verify(digest)) == true {
            logger.warning("a reader found blob \(digest.hex) damaged while \(foundBy), but it verifies now; it stays", metadata: ["blob": "\(digest.hex)"])
            return
        }
        quarantineDamagedBlob(digest, foundBy: foundBy)
    }

    /// Takes the daily backup when one is due, off the actor (see `backUpConcurrently`).
    func backUpIfDue() async {
        guard !backingUp, wallNow() - (lastBackupAt ?? 0) >= DatabaseBackups.interval else { return }
        await backUpConcurrently(why: "daily")
    }

    /// Takes a database backup into `DATA_DIR/backups` (keeping the newest three) while the actor
    /// goes on handling events: the copy is read from its own read-only connection, a consistent
    /// snapshot, on that connection's thread. Returns the backup's path; nil when one is already
    /// being taken or it failed (logged, never fatal). `beforeCopy` runs on that thread just before
    /// the copy starts.
    @discardableResult
    func backUpConcurrently(why: String, beforeCopy: @escaping @Sendable () -> Void = {}) async -> String? {
        guard !backingUp else { return nil }
        backingUp = true
        defer { backingUp = false }
        let now = wallNow()
        lastBackupAt = now
        do {
            let path = try await backups.take(of: store, now: now, beforeCopy: beforeCopy)
            logger.info("database backed up (\(why)) to \(path)")
            return path
        } catch {
            logger.error("database backup (\(why)) failed: \(error)")
            return nil
        }
    }

    /// Takes a database backup into `DATA_DIR/backups` (keeping the newest three) and returns once
    /// it is written: the shutdown backup, which must finish before the process exits. A failure is
    /// logged, never fatal.
    func backUp(why: String) {
        let now = wallNow()
        lastBackupAt = now
        do {
            let path = try backups.take(of: store, now: now)
            logger.info("database backed up (\(why)) to \(path)")
        } catch {
            logger.error("database backup (\(why)) failed: \(error)")
        }
    }
}
