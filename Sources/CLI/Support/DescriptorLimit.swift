import Glibc

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`).
enum DescriptorLimit {
    /// Raises the soft limit to the hard limit (the most an unprivileged process may ask for) and returns the
    /// soft limit now in force. A hard limit of "unlimited" is tried first, then `/proc/sys/fs/nr_open`'s
    /// usual value; when nothing can be raised, the current soft limit is returned unchanged.
    static func raiseSoftLimitToHard() -> Int {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) != 0, limit.rlim_max == rlim_t.max {
                raised.rlim_cur = 1 << 20
                _ = setrlimit(resource, &raised)
            }
            _ = getrlimit(resource, &limit)
        }
        return limit.rlim_cur == rlim_t.max ? Int.max / 4 : Int(clamping: limit.rlim_cur)
    }
}
