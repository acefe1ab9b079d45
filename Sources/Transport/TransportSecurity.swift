import ZeroMQ

/// How a ZeroMQ transport secures its connections.
public enum TransportSecurity: Sendable {
    /// No encryption and no authentication: anyone who reaches the endpoint is trusted. Only for a
    /// single trusted machine, and only when chosen explicitly.
    case plaintext
    /// The coordinator's side of CurveZMQ: `keys` is its key pair (workers pin its public key); every
    /// worker's handshake is checked against `allowList` by a ZAP handler, and each received message
    /// carries the key that was checked (``Protocol/Message/authenticatedKey``).
    case curveServer(keys: ZMQCurveKeyPair, allowList: WorkerAllowList)
    /// A worker's side of CurveZMQ: its own key pair, and the coordinator's public key it insists on.
    case curveClient(keys: ZMQCurveKeyPair, coordinatorKey: ZMQCurveKey)
}

/// The worker public keys a coordinator lets connect, shared between the coordinator (which changes
/// it as keys are allowed and revoked) and its transport's ZAP handler (which reads it at every
/// handshake). Thread-safe; a change applies to the next handshake.
public final class WorkerAllowList: Sendable {
    let keys: ZMQCurveAllowList

    /// An empty allow-list: every worker is refused until a key is allowed.
    public init() {
        keys = ZMQCurveAllowList()
    }

    /// Whether `key` is a CURVE public key in Z85 (40 characters).
    public static func isValidKey(_ key: String) -> Bool {
        (try? ZMQCurveKey(z85: key)) != nil
    }

    /// Lets `key` (Z85) connect from the next handshake on; an invalid key is ignored (check it with
    /// ``isValidKey(_:)`` first).
    public func allow(_ key: String) {
        if let key = try? ZMQCurveKey(z85: key) { keys.allow(key) }
    }

    /// Refuses `key` (Z85) from the next handshake on.
    public func revoke(_ key: String) {
        if let key = try? ZMQCurveKey(z85: key) { keys.revoke(key) }
    }

    /// Replaces every key at once (invalid ones are skipped).
    public func replace(with keys: some Sequence<String>) {
        self.keys.replace(with: keys.compactMap { try? ZMQCurveKey(z85: $0) })
    }

    /// The latest keys (Z85) whose handshake was refused, oldest first (a bounded memory).
    public var recentlyDenied: [String] {
        keys.recentlyDenied.map(\.z85)
    }

    /// Handshakes let through and refused so far.
    public var handshakes: (allowed: Int, denied: Int) {
        let counts = keys.counts
        return (counts.allowed, counts.denied)
    }
}
