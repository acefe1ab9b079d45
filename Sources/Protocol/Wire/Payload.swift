/// The body of a message, one case per `MessageCode`.
public enum Payload: Hashable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case refuse(Refuse)
    case heartbeat(Heartbeat)
    case drain(Drain)
    case dispatch(Dispatch)
    case cancel(Cancel)
    case attemptStarted(AttemptStarted)
    case attemptFinished(AttemptFinished)
    case attemptAcknowledged(AttemptAcknowledged)
    case logChunk(LogChunk)
    case metrics(Metrics)
    case fetchRequest(FetchRequest)
    case fetchChunk(FetchChunk)
    case fetchFailed(FetchFailed)
    case uploadBegin(UploadBegin)
    case uploadCredit(UploadCredit)
    case uploadChunk(UploadChunk)
    case uploadStored(UploadStored)

    /// The code that identifies this payload on the wire.
    public var code: MessageCode {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refuse: .refuse
        case .heartbeat: .heartbeat
        case .drain: .drain
        case .dispatch: .dispatch
        case .cancel: .cancel
        case .attemptStarted: .attemptStarted
        case .attemptFinished: .attemptFinished
        case .attemptAcknowledged: .attemptAcknowledged
        case .logChunk: .logChunk
        case .metrics: .metrics
        case .fetchRequest: .fetchRequest
        case .fetchChunk: .fetchChunk
        case .fetchFailed: .fetchFailed
        case .uploadBegin: .uploadBegin
        case .uploadCredit: .uploadCredit
        case .uploadChunk: .uploadChunk
        case .uploadStored: .uploadStored
        }
    }

    /// Whether the message carries a bulk frame of raw bytes after its body.
    public var hasBulk: Bool {
        switch self {
        case .logChunk, .fetchChunk, .uploadChunk: true
        default: false
        }
    }
}

/// A whole message: header, body and, for data messages, the raw bytes.
public struct Message: Hashable, Sendable {
    public var envelope: Envelope
    public var payload: Payload
    /// Raw bytes for `logChunk`, `fetchChunk` and `uploadChunk`; empty otherwise.
    public var bulk: [UInt8]
    /// The sender's public key (Z85) as the receiving transport authenticated it at the connection's
    /// handshake; `nil` without authentication. Set by the receiver, never sent: not part of the wire
    /// encoding, and the only identity of a sender that can be trusted.
    public var authenticatedKey: String?

    public init(envelope: Envelope, payload: Payload, bulk: [UInt8] = [], authenticatedKey: String? = nil) {
        self.envelope = envelope
        self.payload = payload
        self.bulk = bulk
        self.authenticatedKey = authenticatedKey
    }
}
