import Foundation

/// The time as the coordinator and worker shells read it: wall-clock milliseconds for records,
/// monotonic milliseconds for timeouts and leases. Injected, so that simulations and tests can
/// drive time by hand (`TestKit.ManualClock`).
public struct ServiceClock: Sendable {
    /// Milliseconds since 1970 (records, reports).
    public var wallMilliseconds: @Sendable () -> Int64
    /// Milliseconds from an arbitrary start that never goes backwards (liveness, leases).
    public var monotonicMilliseconds: @Sendable () -> Int64

    public init(wallMilliseconds: @escaping @Sendable () -> Int64, monotonicMilliseconds: @escaping @Sendable () -> Int64) {
        self.wallMilliseconds = wallMilliseconds
        self.monotonicMilliseconds = monotonicMilliseconds
    }

    /// The machine's clocks (`CLOCK_MONOTONIC` for the monotonic one).
    public static let system = ServiceClock(
        wallMilliseconds: { Int64((Date().timeIntervalSince1970 * 1000).rounded()) },
        monotonicMilliseconds: {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        }
    )
}
