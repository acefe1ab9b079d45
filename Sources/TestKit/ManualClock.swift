import Synchronization
import Transport

/// A clock that moves only when told to: simulations and tests drive leases and timeouts with it.
public final class ManualClock: Sendable {
    private let now: Mutex<Int64>

    /// Starts at `milliseconds` (both the wall and the monotonic reading).
    public init(milliseconds: Int64 = 1_700_000_000_000) {
        now = Mutex(milliseconds)
    }

    public var milliseconds: Int64 { now.withLock { $0 } }

    public func advance(by milliseconds: Int64) {
        now.withLock { $0 += max(0, milliseconds) }
    }

    public func set(_ milliseconds: Int64) {
        now.withLock { $0 = max($0, milliseconds) }
    }

    /// A `ServiceClock` reading this clock.
    public var serviceClock: ServiceClock {
        ServiceClock(wallMilliseconds: { [self] in milliseconds }, monotonicMilliseconds: { [self] in milliseconds })
    }
}
