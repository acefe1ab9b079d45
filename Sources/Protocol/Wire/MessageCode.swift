/// The numeric code that says which message an envelope carries.
///
/// Codes are part of the wire format: never renumber one. An unknown code is reported by the
/// decoder as `ProtocolError.unknownCode`, so a newer peer never crashes an older one.
public struct MessageCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Worker → coordinator: first message, with capabilities.
    public static let hello = MessageCode(rawValue: 1)
    /// Coordinator → worker: registration accepted.
    public static let welcome = MessageCode(rawValue: 2)
    /// Coordinator → worker: registration refused, with a reason.
    public static let refuse = MessageCode(rawValue: 3)
    /// Both ways: liveness.
    public static let heartbeat = MessageCode(rawValue: 4)
    /// Both ways: the worker stops taking attempts, finishes (or hands back) what it holds and
    /// leaves. Coordinator → worker asks it to; worker → coordinator announces it (SIGTERM).
    public static let drain = MessageCode(rawValue: 5)
    /// Coordinator → worker: run an attempt.
    public static let dispatch = MessageCode(rawValue: 10)
    /// Coordinator → worker: stop an attempt.
    public static let cancel = MessageCode(rawValue: 11)
    /// Worker → coordinator: the attempt's process started.
    public static let attemptStarted = MessageCode(rawValue: 12)
    /// Worker → coordinator: the attempt ended; outputs are uploaded.
    public static let attemptFinished = MessageCode(rawValue: 13)
    /// Coordinator → worker: the finish report was recorded (or rejected).
    public static let attemptAcknowledged = MessageCode(rawValue: 14)
    /// Worker → coordinator: a piece of stdout or stderr (bytes in the bulk frame).
    public static let logChunk = MessageCode(rawValue: 20)
    /// Worker → coordinator: metric values reported by the step.
    public static let metrics = MessageCode(rawValue: 21)
    /// Worker → coordinator: request chunks of a blob (an input).
    public static let fetchRequest = MessageCode(rawValue: 30)
    /// Coordinator → worker: one chunk of a blob (bytes in the bulk frame).
    public static let fetchChunk = MessageCode(rawValue: 31)
    /// Coordinator → worker: a blob cannot be served.
    public static let fetchFailed = MessageCode(rawValue: 32)
    /// Worker → coordinator: wants to upload a blob (an output).
    public static let uploadBegin = MessageCode(rawValue: 40)
    /// Coordinator → worker: send chunks from this offset, this many.
    public static let uploadCredit = MessageCode(rawValue: 41)
    /// Worker → coordinator: one chunk of a blob (bytes in the bulk frame).
    public static let uploadChunk = MessageCode(rawValue: 42)
    /// Coordinator → worker: the blob is stored and verified (or failed).
    public static let uploadStored = MessageCode(rawValue: 43)

    /// Every code this version knows.
    public static let all: [MessageCode] = [
        .hello, .welcome, .refuse, .heartbeat, .drain, .dispatch, .cancel, .attemptStarted, .attemptFinished,
        .attemptAcknowledged, .logChunk, .metrics, .fetchRequest, .fetchChunk, .fetchFailed,
        .uploadBegin, .uploadCredit, .uploadChunk, .uploadStored,
    ]

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .refuse: "refuse"
        case .heartbeat: "heartbeat"
        case .drain: "drain"
        case .dispatch: "dispatch"
        case .cancel: "cancel"
        case .attemptStarted: "attempt-started"
        case .attemptFinished: "attempt-finished"
        case .attemptAcknowledged: "attempt-acknowledged"
        case .logChunk: "log-chunk"
        case .metrics: "metrics"
        case .fetchRequest: "fetch-request"
        case .fetchChunk: "fetch-chunk"
        case .fetchFailed: "fetch-failed"
        case .uploadBegin: "upload-begin"
        case .uploadCredit: "upload-credit"
        case .uploadChunk: "upload-chunk"
        case .uploadStored: "upload-stored"
        default: "code-\(rawValue)"
        }
    }
}
