import Protocol
import Synchronization
import Transport

/// Everything a worker connection received, kept so a test can wait for a message with a deadline
/// (a transport's event stream has a single consumer; the inbox is it).
public final class MessageInbox: Sendable {
    /// Which message to wait for. A value, not a closure: a predicate closure written inside an async
    /// test closure was seen to run with another call's captures.
    public enum Match: Sendable, Hashable {
        /// Any message with this code.
        case code(MessageCode)
        /// A `cancel` of this attempt.
        case cancel(attemptID: String)
        /// An `attemptAcknowledged` of this attempt, accepted or not (nil: either).
        case acknowledged(attemptID: String, accepted: Bool?)

        func matches(_ message: Message) -> Bool {
            switch (self, message.payload) {
            case (.code(let code), _):
                return message.payload.code == code
            case (.cancel(let attemptID), .cancel(let cancel)):
                return cancel.attemptID == attemptID
            case (.acknowledged(let attemptID, let accepted), .attemptAcknowledged(let ack)):
                return ack.attemptID == attemptID && (accepted == nil || ack.accepted == accepted)
            default:
                return false
            }
        }
    }

    private let messages = Mutex<[Message]>([])
    private let pump = Mutex<Task<Void, Never>?>(nil)

    /// Starts collecting `events` until they end or ``stop()`` is called.
    public init(_ events: AsyncStream<WorkerTransportEvent>) {
        let task = Task { [weak self] in
            for await event in events {
                if case .message(let message) = event { self?.messages.withLock { $0.append(message) } }
            }
        }
        pump.withLock { $0 = task }
    }

    /// The first message received that matches, waiting up to `timeout` for it.
    public func first(_ match: Match, within timeout: Duration = .seconds(10)) async throws -> Message? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = received.first(where: match.matches) { return found }
            try await Task.sleep(for: .milliseconds(5))
        }
        return received.first(where: match.matches)
    }

    /// How many matching messages arrived, waiting up to `timeout` for at least `count` of them.
    public func count(_ match: Match, atLeast count: Int, within timeout: Duration = .seconds(10)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = received.filter(match.matches).count
            if found >= count { return found }
            try await Task.sleep(for: .milliseconds(5))
        }
        return received.filter(match.matches).count
    }

    /// Every message received so far, in order.
    public var received: [Message] {
        messages.withLock { $0 }
    }

    /// Whether a matching message was received so far.
    public func contains(_ match: Match) -> Bool {
        received.contains(where: match.matches)
    }

    /// Stops collecting.
    public func stop() {
        pump.withLock { $0?.cancel() }
    }
}
