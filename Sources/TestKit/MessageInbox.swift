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

    private struct State {
        var messages: [Message] = []
        /// Waiters resumed whenever a message arrives (and when the deadline passes).
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())
    private let pump = Mutex<Task<Void, Never>?>(nil)

    /// Starts collecting `events` until they end or ``stop()`` is called.
    public init(_ events: AsyncStream<WorkerTransportEvent>) {
        let task = Task { [weak self] in
            for await event in events {
                if case .message(let message) = event { self?.append(message) }
            }
        }
        pump.withLock { $0 = task }
    }

    private func append(_ message: Message) {
        let waiters = state.withLock { state in
            state.messages.append(message)
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until a message arrives or `deadline` passes, whichever comes first.
    private func arrival(before deadline: ContinuousClock.Instant, seen count: Int) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state in
                        // A message that came in since the caller looked wakes it at once.
                        if state.messages.count > count { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// The first message received that matches, waiting up to `timeout` for it (woken by each arrival).
    public func first(_ match: Match, within timeout: Duration = .seconds(10)) async throws -> Message? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = received
            if let found = seen.first(where: match.matches) { return found }
            guard ContinuousClock.now < deadline else { return nil }
            await arrival(before: deadline, seen: seen.count)
        }
    }

    /// How many matching messages arrived, waiting up to `timeout` for at least `count` of them.
    public func count(_ match: Match, atLeast count: Int, within timeout: Duration = .seconds(10)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = received
            let found = seen.filter(match.matches).count
            if found >= count || ContinuousClock.now >= deadline { return found }
            await arrival(before: deadline, seen: seen.count)
        }
    }

    /// Every message received so far, in order.
    public var received: [Message] {
        state.withLock { $0.messages }
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
