/// The leases a worker holds on its attempts, and which have run out.
///
/// Every dispatch is a lease: the coordinator renews it by naming the attempt in its heartbeats
/// (about once a second). An attempt whose lease has not been renewed for `timeoutMilliseconds`
/// (8 s by default, shorter than the coordinator's 10 s loss timeout) must be fenced: the worker
/// kills its process group and discards its outputs, so that it never overlaps for long with the
/// attempt the coordinator sends elsewhere once it gives this one up.
///
/// Pure: no clock, no I/O; the worker passes the time in (monotonic milliseconds).
public struct AttemptLeases: Sendable, Hashable {
    public private(set) var timeoutMilliseconds: Int64
    /// attempt → when its lease was last granted or renewed.
    public private(set) var renewedAt: [String: Int64] = [:]

    public init(timeoutMilliseconds: Int64) {
        precondition(timeoutMilliseconds > 0, "AttemptLeases: the timeout must be positive")
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// The coordinator sets the lease length at registration (shorter than its loss timeout).
    public mutating func setTimeout(_ milliseconds: Int64) {
        timeoutMilliseconds = max(1, milliseconds)
    }

    /// A dispatch arrived: the lease starts now.
    public mutating func grant(_ attemptID: String, now: Int64) {
        renewedAt[attemptID] = now
    }

    /// The coordinator's heartbeat named these attempts as held by this worker.
    public mutating func renew(_ attemptIDs: some Sequence<String>, now: Int64) {
        for id in attemptIDs where renewedAt[id] != nil {
            renewedAt[id] = max(renewedAt[id]!, now)
        }
    }

    /// The attempt ended and its report was acknowledged (or it was fenced): no lease to keep.
    public mutating func release(_ attemptID: String) {
        renewedAt[attemptID] = nil
    }

    /// Whether the attempt holds a live lease.
    public func isCurrent(_ attemptID: String, now: Int64) -> Bool {
        guard let renewed = renewedAt[attemptID] else { return false }
        return now - renewed < timeoutMilliseconds
    }

    /// Attempts whose lease ran out, sorted.
    public func expired(now: Int64) -> [String] {
        renewedAt.filter { now - $0.value >= timeoutMilliseconds }.keys.sorted()
    }
}
