import Glibc

/// glibc functions that Swift's `Glibc` module does not import, looked up once with `dlsym`.
public enum SpawnSymbols {
    public typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc ≥ 2.29).
    public static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)

    public typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc ≥ 2.34); nil means descriptors the worker opened
    /// without close-on-exec leak into steps.
    public static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)

    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32

    /// `pipe2` (glibc ≥ 2.9): pipes created close-on-exec atomically, so that a concurrent spawn in another
    /// thread cannot inherit them.
    static let pipe2: Pipe2? = symbol("pipe2", as: Pipe2.self)

    /// `pidfd_open` (glibc ≥ 2.36, Linux ≥ 5.3); nil means the reader falls back to polling `waitpid`.
    static let pidfdOpen: PidfdOpen? = symbol("pidfd_open", as: PidfdOpen.self)

    /// The first of `/bin/bash`, `/usr/bin/bash` that is executable.
    static let bashPath: String? = ["/bin/bash", "/usr/bin/bash"].first { access($0, X_OK) == 0 }

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }
}
