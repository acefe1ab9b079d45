/// The coordinator's gauges at one moment, read when `/metrics` is scraped
/// (see ``CoordinatorService/metricsSnapshot()``).
public struct CoordinatorMetricsSnapshot: Sendable, Equatable {
    /// The steps waiting for a worker with one label (`""`: steps any worker may take).
    public struct Queue: Sendable, Equatable {
        /// The worker label the steps need; empty for steps without one.
        public var label: String
        /// Attempts waiting to be dispatched.
        public var depth: Int
        /// How long the attempt waiting longest has waited, in seconds; 0 when none waits.
        public var oldestWaitingSeconds: Double
    }

    /// A connected worker's capacity and what is leased of it.
    public struct Worker: Sendable, Equatable {
        /// The worker's registration id.
        public var id: String
        /// The name it registered with.
        public var name: String
        /// The steps it runs at once.
        public var slots: Int
        /// Attempts placed on it (running, or waiting on it to start); may exceed `slots` while
        /// attempts are sent ahead.
        public var slotsLeased: Int
        /// The GPUs it offers.
        public var gpus: Int
        /// The GPUs leased to attempts.
        public var gpusLeased: Int
        /// Whether it is draining (takes nothing new).
        public var draining: Bool

        /// Slots not leased.
        public var slotsFree: Int { max(0, slots - slotsLeased) }
        /// GPUs not leased.
        public var gpusFree: Int { max(0, gpus - gpusLeased) }
    }

    /// One entry per label that steps wait for or a connected worker offers, by label.
    public var queues: [Queue]
    /// Connected workers, by id.
    public var workers: [Worker]
    /// Runs not yet ended.
    public var activeRuns: Int
}
