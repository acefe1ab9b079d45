import CMalloc

/// How the daemons ask glibc's allocator to treat the 2 MiB buffers artifact transfers go through.
enum MemoryTuning {
    /// Keeps freed large buffers in the process for reuse instead of handing them back to the kernel.
    ///
    /// By default glibc serves allocations above a threshold (128 KiB, raised as such blocks are freed)
    /// with fresh `mmap`s and trims freed memory at the top of a heap once it passes a second one. Each
    /// chunk of a transfer is several such buffers (the received ZeroMQ frame, its copy, the bytes read
    /// from disk), so every chunk paid page faults and the kernel's zeroing of fresh pages: about a
    /// second of CPU per GiB moved on each side, measured with `perf` on `make bench-transfer`. With a
    /// 32 MiB threshold and a 64 MiB trim threshold the buffers come from the heap and are reused;
    /// the memory kept is about what a process's transfer windows hold at their peak.
    static func keepLargeBuffers() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
    }
}
