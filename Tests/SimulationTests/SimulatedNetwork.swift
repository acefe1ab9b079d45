import Protocol
import Synchronization
import Transport

/// A seeded pseudo-random generator (SplitMix64): the same seed gives the same schedule.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }
}

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
