import Protocol
import Synchronization
import Transport

/// The coordinator's transport in the simulation: what the coordinator sends is collected and
/// handed to the simulated network, which decides when (and whether) it arrives.
final class SimulatedCoordinatorTransport: CoordinatorTransport {
    let events: AsyncStream<CoordinatorTransportEvent>
    private let sent = Mutex<[(Message, PeerID)]>([])

    init() {
        events = AsyncStream { _ in }
    }

    func send(_ message: Message, to peer: PeerID) {
        sent.withLock { $0.append((message, peer)) }
    }

    func close() {}

    /// Everything sent since the last call, in order.
    func takeSent() -> [(Message, PeerID)] {
        sent.withLock { messages in
            defer { messages.removeAll() }
            return messages
        }
    }
}

/// Where a message in flight goes.
enum Destination: Hashable {
    case coordinator(from: PeerID)
    case worker(PeerID)
}

/// A message in flight.
struct Flight {
    var due: Int64
    var order: Int
    var destination: Destination
    var message: Message
    var sentAt: Int64
}
