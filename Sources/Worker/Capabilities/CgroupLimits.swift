import Foundation

/// The CPU and memory limits the process's control groups (v1 or v2) put on it.
///
/// Read from the cgroup file system: the process's own group and every ancestor up to the mount
/// root, since a limit set on a parent (a container's group, a Slurm job's group, a systemd
/// slice) binds its children too. The tightest limit found wins. Parsing is pure: `read` takes
/// the mount root and the text of `/proc/self/cgroup`, so tests build fixture directories.
public struct CgroupLimits: Hashable, Sendable {
    /// CPU time per period, in cores (quota / period, e.g. 2.5); nil when unlimited.
    public var cpuCores: Double?
    /// Memory limit in bytes; nil when unlimited.
    public var memoryBytes: Int64?

    public init(cpuCores: Double? = nil, memoryBytes: Int64? = nil) {
        self.cpuCores = cpuCores
        self.memoryBytes = memoryBytes
    }

    /// No limits.
    public static let none = CgroupLimits()

    /// The limits on this process, read from `/sys/fs/cgroup` and `/proc/self/cgroup`; `none` where
    /// neither can be read (not Linux, or no cgroup file system mounted).
    public static func current() -> CgroupLimits {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return .none }
        return read(root: "/sys/fs/cgroup", procSelfCgroup: membership)
    }

    /// The limits found under `root` (where the cgroup file systems are mounted) for the groups
    /// named in `procSelfCgroup` (the text of `/proc/self/cgroup`).
    ///
    /// cgroup v2 (when `root/cgroup.controllers` exists): the `0::/PATH` line; `cpu.max` and
    /// `memory.max` in `root/PATH` and its ancestors.
    /// cgroup v1: the `N:CONTROLLERS:/PATH` lines; `cpu.cfs_quota_us` / `cpu.cfs_period_us` under
    /// `root/cpu` (or `root/cpu,cpuacct`) and `memory.limit_in_bytes` under `root/memory`, at PATH
    /// and its ancestors. Hybrid machines have both; every file found counts. In a container the
    /// path named may not exist (the container's own group is mounted as the root): the mount root
    /// is always checked, so the container's limit is still found. Missing or unreadable files
    /// mean "no limit there".
    public static func read(root: String, procSelfCgroup: String) -> CgroupLimits {
        var limits = CgroupLimits.none
        // A unified (v2) hierarchy mounted at the root says so with this file; on hybrid machines
        // the root holds only the v1 mounts, and the `0::` line names a group without controllers.
        let unified = FileManager.default.fileExists(atPath: root + "/cgroup.controllers")
        for line in procSelfCgroup.split(whereSeparator: \.isNewline) {
            // hierarchy-id:controller-list:path; the path may itself hold colons.
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let controllers = fields[1].split(separator: ",").map(String.init)
            let path = String(fields[2])
            if unified && fields[0] == "0" && controllers.isEmpty {
                for directory in directories(mount: root, path: path) {
                    limits.tighten(cpuCores: read(directory, "cpu.max").flatMap(parseCPUMax))
                    limits.tighten(memoryBytes: read(directory, "memory.max").flatMap(parseMemoryMax))
                }
            }
            if controllers.contains("cpu") {
                for mount in v1Mounts(root: root, controllers: controllers) {
                    for directory in directories(mount: mount, path: path) {
                        guard let quota = read(directory, "cpu.cfs_quota_us"),
                              let period = read(directory, "cpu.cfs_period_us") else { continue }
                        limits.tighten(cpuCores: parseCFSQuota(quota: quota, period: period))
                    }
                }
            }
            if controllers.contains("memory") {
                for mount in v1Mounts(root: root, controllers: controllers) {
                    for directory in directories(mount: mount, path: path) {
                        limits.tighten(memoryBytes: read(directory, "memory.limit_in_bytes").flatMap(parseMemoryLimit))
                    }
                }
            }
        }
        return limits
    }

    /// `cpu.max` (v2): `QUOTA PERIOD` in microseconds, or `max PERIOD` for no limit.
    public static func parseCPUMax(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count >= 1, fields[0] != "max", let quota = Double(fields[0]), quota > 0 else { return nil }
        let period = fields.count >= 2 ? Double(fields[1]) ?? 100_000 : 100_000
        guard period > 0 else { return nil }
        return quota / period
    }

    /// `memory.max` (v2): bytes, or `max` for no limit.
    public static func parseMemoryMax(_ text: String) -> Int64? {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard value != "max", let bytes = Int64(value), bytes > 0 else { return nil }
        return bytes
    }

    /// `cpu.cfs_quota_us` and `cpu.cfs_period_us` (v1): a quota of -1 means no limit.
    public static func parseCFSQuota(quota: String, period: String) -> Double? {
        guard let quota = Double(quota.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0,
              let period = Double(period.trimmingCharacters(in: .whitespacesAndNewlines)), period > 0 else { return nil }
        return quota / period
    }

    /// v1 limits at or above this are the kernel's way of saying "unlimited" (it writes
    /// `PAGE_COUNTER_MAX` rounded to a page, 9223372036854771712 on 64-bit machines).
    public static let unlimitedMemoryThreshold: Int64 = 1 << 62

    /// `memory.limit_in_bytes` (v1): bytes; a huge value means no limit.
    public static func parseMemoryLimit(_ text: String) -> Int64? {
        guard let bytes = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes > 0,
              bytes < unlimitedMemoryThreshold else { return nil }
        return bytes
    }

    /// The cores a process limited this way may use on a machine offering `available` cores: the
    /// quota rounded *down* (a quota of 2.5 cores keeps 2 cores busy without throttling; rounding
    /// up would schedule more work than the quota pays for), but never less than 1, and never more
    /// than `available`.
    public func cores(available: Int) -> Int {
        let available = max(1, available)
        guard let cpuCores else { return available }
        return min(available, max(1, Int(cpuCores.rounded(.down))))
    }

    /// The memory a process limited this way may use on a machine with `physical` bytes.
    public func memory(physical: Int64) -> Int64 {
        guard let memoryBytes else { return physical }
        return min(physical, memoryBytes)
    }

    private mutating func tighten(cpuCores limit: Double?) {
        guard let limit else { return }
        cpuCores = min(cpuCores ?? limit, limit)
    }

    private mutating func tighten(memoryBytes limit: Int64?) {
        guard let limit else { return }
        memoryBytes = min(memoryBytes ?? limit, limit)
    }

    /// Where a v1 hierarchy with these controllers is mounted under `root`: `root/cpu,cpuacct`
    /// or one directory per controller (`root/cpu`, usually links to the joint mount).
    private static func v1Mounts(root: String, controllers: [String]) -> [String] {
        let candidates = [controllers.joined(separator: ",")] + controllers
        var seen: Set<String> = []
        var mounts: [String] = []
        for name in candidates {
            let mount = root + "/" + name
            let resolved = (mount as NSString).resolvingSymlinksInPath
            guard isDirectory(mount), seen.insert(resolved).inserted else { continue }
            mounts.append(mount)
        }
        return mounts
    }

    /// The group's directory under `mount` and each ancestor's that exists, and the mount root.
    private static func directories(mount: String, path: String) -> [String] {
        var components = path.split(separator: "/").map(String.init).filter { $0 != "." && $0 != ".." }
        var found: [String] = []
        while !components.isEmpty {
            let directory = mount + "/" + components.joined(separator: "/")
            if isDirectory(directory) { found.append(directory) }
            components.removeLast()
        }
        found.append(mount)
        return found
    }

    private static func read(_ directory: String, _ file: String) -> String? {
        try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
