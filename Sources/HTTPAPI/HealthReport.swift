import Coordinator

/// The answer to `GET /v1/health`.
struct HealthReport: Encodable, Sendable {
    /// Always `ok`: the coordinator answers.
    var status: String
    /// The worker protocol version.
    var `protocol`: String
    /// How far the mirror to the user's MLflow server is behind; absent when none is configured.
    var mlflowMirror: MLflowMirrorStatus?
}
