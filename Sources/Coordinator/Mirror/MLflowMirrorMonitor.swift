import Synchronization

/// How far behind the mirror to the user's MLflow server is, as `GET /v1/health` shows it
/// (`mlflowMirror`).
public struct MLflowMirrorStatus: Codable, Hashable, Sendable {
    /// The server mirrored to.
    public var trackingURI: String
    /// `up_to_date`, `sending`, or `behind` (the server cannot be reached or fails; retrying).
    public var state: String
    /// Attempts whose tracking is not all on the server yet (running ones included).
    public var attemptsBehind: Int
    /// Since when (milliseconds since 1970) the server has been failing; nil when it is not.
    public var behindSince: Int64?
    /// The last failure, while behind.
    public var lastError: String?

    public init(trackingURI: String, state: String = "sending", attemptsBehind: Int = 0, behindSince: Int64? = nil, lastError: String? = nil) {
        self.trackingURI = trackingURI
        self.state = state
        self.attemptsBehind = attemptsBehind
        self.behindSince = behindSince
        self.lastError = lastError
    }
}

/// The mirror's status, written by the mirror and read by the HTTP API.
public final class MLflowMirrorMonitor: Sendable {
    private let status: Mutex<MLflowMirrorStatus>

    public init(trackingURI: String) {
        status = Mutex(MLflowMirrorStatus(trackingURI: trackingURI))
    }

    /// The status now.
    public var current: MLflowMirrorStatus { status.withLock { $0 } }

    func update(_ change: (inout MLflowMirrorStatus) -> Void) {
        status.withLock { change(&$0) }
    }
}
