import Synchronization

/// How many events a socket has delivered that its consumer has not taken yet.
final class EventBacklog: Sendable {
    let count = Atomic<Int>(0)
}

/// The I/O thread's end of a socket's event stream: counts what it delivers, so that the consumer
/// can tell whether more events are already waiting (see ``ZMQSocket/pendingEvents``).
struct SocketEventSink: Sendable {
    let continuation: AsyncStream<ZMQSocketEvent>.Continuation
    let backlog: EventBacklog

    func yield(_ event: ZMQSocketEvent) {
        backlog.count.add(1, ordering: .relaxed)
        continuation.yield(event)
    }

    func finish() {
        continuation.finish()
    }
}
