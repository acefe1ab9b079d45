import Dispatch
import Protocol
import Synchronization

/// A running attempt's `TrackingCollector`, polled off the worker's actor: reading and parsing what a
/// step logged takes file I/O and JSON decoding, which must not delay heartbeats and lease renewals.
/// One poll at a time (the collector is behind a lock).
final class TrackingReader: Sendable {
    private let collector: Mutex<TrackingCollector>

    init(metricsFile: String, mlruns: String) {
        collector = Mutex(TrackingCollector(metricsFile: metricsFile, mlruns: mlruns))
    }

    /// Whether the last poll stopped before the end of a file.
    var more: Bool { collector.withLock { $0.more } }

    /// What is new (see `TrackingCollector.poll`), read on a global dispatch queue.
    func poll(attemptID: String, now: Int64, final: Bool) async -> Metrics? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.collector.withLock { $0.poll(attemptID: attemptID, now: now, final: final) })
            }
        }
    }
}
