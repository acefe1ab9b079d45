import Synchronization

/// The public keys a loop's ZAP handler lets through, changeable at any time from any thread.
///
/// The handler (see ``ZMQLoop/installZAPHandler(allowList:)``) asks it once per CURVE handshake: an allowed
/// key is answered 200 with the key's Z85 text as the user id (which every message from that connection
/// then carries, see ``ZMQSocketEvent/message(_:userID:)``); any other key is answered 400. A change
/// applies to the next handshake; connections already made are not touched (their owner drops them).
public final class ZMQCurveAllowList: Sendable {
    /// Requests answered, for observability and the start-up self-check.
    public struct Counts: Sendable, Hashable {
        /// Handshakes let through.
        public var allowed: Int
        /// Handshakes refused (key not allowed, or a request that was not CURVE).
        public var denied: Int
    }

    /// How many refused keys ``recentlyDenied`` remembers.
    public static let deniedMemory = 32

    private struct State {
        var keys: Set<ZMQCurveKey>
        var counts = Counts(allowed: 0, denied: 0)
        /// The latest refused keys, oldest first, at most ``deniedMemory``.
        var denied: [ZMQCurveKey] = []
    }

    private let state: Mutex<State>

    /// An allow-list holding `keys`.
    public init(_ keys: some Sequence<ZMQCurveKey> = []) {
        state = Mutex(State(keys: Set(keys)))
    }

    /// Lets `key` through from the next handshake on.
    public func allow(_ key: ZMQCurveKey) {
        state.withLock { _ = $0.keys.insert(key) }
    }

    /// Refuses `key` from the next handshake on.
    public func revoke(_ key: ZMQCurveKey) {
        state.withLock { _ = $0.keys.remove(key) }
    }

    /// Replaces every key at once.
    public func replace(with keys: some Sequence<ZMQCurveKey>) {
        let keys = Set(keys)
        state.withLock { $0.keys = keys }
    }

    /// Whether `key` is let through.
    public func contains(_ key: ZMQCurveKey) -> Bool {
        state.withLock { $0.keys.contains(key) }
    }

    /// The keys let through.
    public var keys: Set<ZMQCurveKey> {
        state.withLock { $0.keys }
    }

    /// Handshakes allowed and denied so far.
    public var counts: Counts {
        state.withLock { $0.counts }
    }

    /// The latest keys the handler refused, oldest first (at most ``deniedMemory``).
    public var recentlyDenied: [ZMQCurveKey] {
        state.withLock { $0.denied }
    }

    /// Called by the ZAP handler for one handshake: whether `key` may pass (`nil`: not a CURVE request,
    /// always refused). Counts the answer.
    func decide(_ key: ZMQCurveKey?) -> Bool {
        state.withLock { state in
            if let key, state.keys.contains(key) {
                state.counts.allowed += 1
                return true
            }
            state.counts.denied += 1
            if let key {
                if state.denied.count == Self.deniedMemory { state.denied.removeFirst() }
                state.denied.append(key)
            }
            return false
        }
    }
}
