/// A step's `retry:` block (a Conduit extension of the Azure ML format): how often a step that
/// fails by itself (non-zero exit, timeout) is tried, and how long to wait in between.
public struct RetrySettings: Sendable, Hashable, Codable {
    /// Tries in all for user failures, the first included; 1 means no retry.
    public var attempts: Int
    /// Wait before the first retry, in milliseconds; each further retry waits `factor` times longer.
    public var backoffMilliseconds: Int64
    public var factor: Double

    public static let none = RetrySettings(attempts: 1, backoffMilliseconds: 0, factor: 1)

    public init(attempts: Int, backoffMilliseconds: Int64, factor: Double = 2) {
        self.attempts = max(1, attempts)
        self.backoffMilliseconds = max(0, backoffMilliseconds)
        self.factor = max(1, factor)
    }
}
