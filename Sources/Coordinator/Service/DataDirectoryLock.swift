#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a data directory, held for the life of the coordinator that owns it.
///
/// Two coordinators on one directory would each take the other's running runs for leftovers of a
/// crash; the second one is refused instead.
final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock on `directory/coordinator.lock`, or throws naming the directory.
    init(directory: String) throws {
        let path = directory + "/coordinator.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CoordinatorError(.storage, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw CoordinatorError(
                .conflict,
                "another Conduit coordinator (a `conduit coordinator`, or the local service of `conduit run`: `conduit service stop --data-dir \(directory)`) is using \(directory); stop it or use another --data-dir"
            )
        }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
