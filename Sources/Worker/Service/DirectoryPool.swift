#if canImport(Glibc)
import Glibc
#endif

/// Empty directories kept for reuse, so that attempts do not create and delete directories.
///
/// On ext4, allocating an inode next to many recently freed ones gets slow (tenths of a
/// millisecond per `mkdir` on a busy disk), and an attempt makes several directories. Finished
/// attempt trees are emptied of files and their directories renamed into a spare pool; a new
/// directory is a `rename` of a spare, which allocates nothing. Not thread-safe: the worker actor
/// owns it.
struct DirectoryPool {
    let spareRoot: String
    let capacity: Int
    private var spares: [String] = []
    private var counter = 0

    /// A pool keeping at most `capacity` spare directories under `spareRoot` (created if needed;
    /// leftovers from an earlier run are reused).
    init(spareRoot: String, capacity: Int = 256) {
        self.spareRoot = spareRoot
        self.capacity = capacity
        mkdir(spareRoot, 0o755)
        if let directory = opendir(spareRoot) {
            while let entry = readdir(directory) {
                let name = Self.name(of: entry)
                if name != "." && name != ".." { spares.append(spareRoot + "/" + name) }
            }
            closedir(directory)
        }
        counter = spares.count
    }

    /// Creates the directory `path` (its parent must exist), from a spare when there is one.
    mutating func makeDirectory(_ path: String) throws(WorkerError) {
        while let spare = spares.popLast() {
            if rename(spare, path) == 0 { return }
        }
        guard mkdir(path, 0o755) == 0 else {
            throw WorkerError(.workspace, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the tree at `path`: files are deleted, directories become spares (up to capacity).
    mutating func recycle(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            unlink(path)
            return
        }
        if let directory = opendir(path) {
            var children: [String] = []
            while let entry = readdir(directory) {
                let name = Self.name(of: entry)
                if name != "." && name != ".." { children.append(path + "/" + name) }
            }
            closedir(directory)
            for child in children { recycle(child) }
        }
        chmod(path, 0o755)
        if spares.count < capacity {
            counter += 1
            let spare = spareRoot + "/" + String(counter)
            if rename(path, spare) == 0 {
                spares.append(spare)
                return
            }
        }
        rmdir(path)
    }

    private static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafePointer(to: entry.pointee.d_name) { pointer in
            pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
    }
}
