/// Who a worker is, as far as the coordinator can prove it: the CURVE public key its connection
/// authenticated with. A worker's name is only a label it chose and proves nothing.
///
/// In plain-text mode (`--plaintext`, loopback only) nothing is authenticated; there the name the
/// worker gave is all the coordinator has, and a worker that reconnects under its name is trusted
/// to be the same one. Nothing in plain-text mode can tell a lying worker from an honest one.
public enum WorkerIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The CURVE public key (Z85) the worker's connection authenticated with.
    case key(String)
    /// Plain-text mode: the name the worker gave in its `hello`.
    case unauthenticated(name: String)

    /// The identity of a worker that registered as `name`, with `key` when the coordinator checks keys.
    public init(key: String?, name: String) {
        self = key.map(WorkerIdentity.key) ?? .unauthenticated(name: name)
    }

    /// How the identity is stored with an attempt (`key:Z85`, `name:NAME`).
    public var stored: String {
        switch self {
        case .key(let key): "key:" + key
        case .unauthenticated(let name): "name:" + name
        }
    }

    /// Reads the form written by ``stored``; nil for anything else.
    public init?(stored: String) {
        if stored.hasPrefix("key:") {
            self = .key(String(stored.dropFirst(4)))
        } else if stored.hasPrefix("name:") {
            self = .unauthenticated(name: String(stored.dropFirst(5)))
        } else {
            return nil
        }
    }

    /// For log lines and refusals: `key Z85` or `unauthenticated worker "NAME"`.
    public var description: String {
        switch self {
        case .key(let key): "key \(key)"
        case .unauthenticated(let name): "unauthenticated worker \"\(name)\""
        }
    }
}
