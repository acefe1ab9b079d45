import Protocol
import Synchronization
import Transport

/// An in-memory stand-in for ZeroMQ: one coordinator endpoint, any number of workers.
///
/// Messages go through the real codec (encoded to frames and decoded again), so a test over
/// this network exercises the same bytes as one over sockets.
public final class InMemoryNetwork: Sendable {
    /// The coordinator's end.
    public let coordinator: InMemoryCoordinatorTransport
    private let workers = Mutex<[PeerID: AsyncStream<WorkerTransportEvent>.Continuation]>([:])
    /// The key each connection authenticated with, as CURVE's ZAP handler would report it.
    private let keys = Mutex<[PeerID: String]>([:])

    public init() {
        let (stream, continuation) = AsyncStream.makeStream(of: CoordinatorTransportEvent.self)
        coordinator = InMemoryCoordinatorTransport(events: stream, continuation: continuation)
        coordinator.network = self
    }

    /// A new worker connection with routing id `identity`; every message it sends carries
    /// `authenticatedKey` (a Z85 public key), as a CURVE connection's messages carry the key its
    /// handshake proved (nil: a plain-text connection).
    public func connectWorker(identity: String, authenticatedKey: String? = nil) -> InMemoryWorkerTransport {
        let peer = PeerID(Array(identity.utf8))
        let (stream, continuation) = AsyncStream.makeStream(of: WorkerTransportEvent.self)
        workers.withLock { $0[peer] = continuation }
        keys.withLock { $0[peer] = authenticatedKey }
        return InMemoryWorkerTransport(peer: peer, events: stream, network: self)
    }

    func deliverToWorker(_ frames: [[UInt8]], peer: PeerID) -> Bool {
        workers.withLock { table in
            guard let continuation = table[peer] else { return false }
            do throws(ProtocolError) {
                continuation.yield(.message(try MessageCodec.decode(frames)))
            } catch {
                continuation.yield(.malformed(error))
            }
            return true
        }
    }

    func deliverToCoordinator(_ frames: [[UInt8]], from peer: PeerID) {
        do throws(ProtocolError) {
            var message = try MessageCodec.decode(frames)
            message.authenticatedKey = keys.withLock { $0[peer] }
            coordinator.continuation.yield(.message(peer, message))
        } catch {
            coordinator.continuation.yield(.malformed(peer, error))
        }
    }

    /// Sends raw frames to the coordinator as if from `peer` (for malformed-input tests).
    public func injectRaw(_ frames: [[UInt8]], from identity: String) {
        deliverToCoordinator(frames, from: PeerID(Array(identity.utf8)))
    }

    /// Sends raw frames to the worker connected as `identity` (for malformed-input tests).
    public func injectRawToWorker(_ frames: [[UInt8]], identity: String) {
        _ = deliverToWorker(frames, peer: PeerID(Array(identity.utf8)))
    }

    func disconnect(_ peer: PeerID) {
        let continuation = workers.withLock { $0.removeValue(forKey: peer) }
        continuation?.finish()
    }
}

/// The coordinator's end of an `InMemoryNetwork`.
public final class InMemoryCoordinatorTransport: CoordinatorTransport, @unchecked Sendable {
    // `@unchecked Sendable`: `network` is set once in `InMemoryNetwork.init`, before the
    // transport is shared, and only read afterwards.
    public let events: AsyncStream<CoordinatorTransportEvent>
    let continuation: AsyncStream<CoordinatorTransportEvent>.Continuation
    weak var network: InMemoryNetwork?

    init(events: AsyncStream<CoordinatorTransportEvent>, continuation: AsyncStream<CoordinatorTransportEvent>.Continuation) {
        self.events = events
        self.continuation = continuation
    }

    public func send(_ message: Message, to peer: PeerID) {
        if network?.deliverToWorker(MessageCodec.encode(message), peer: peer) != true {
            continuation.yield(.undeliverable(peer, reason: "no such peer"))
        }
    }

    public func close() {
        continuation.finish()
    }

    /// What `pendingEvents` reports: 0 by default (every event commits on its own); a test sets
    /// it to make the coordinator believe a burst of messages is waiting.
    public let simulatedBacklog = Mutex(0)

    public var pendingEvents: Int { simulatedBacklog.withLock { $0 } }
}

/// A worker's end of an `InMemoryNetwork`.
public final class InMemoryWorkerTransport: WorkerTransport {
    public let events: AsyncStream<WorkerTransportEvent>
    let peer: PeerID
    let network: InMemoryNetwork

    init(peer: PeerID, events: AsyncStream<WorkerTransportEvent>, network: InMemoryNetwork) {
        self.peer = peer
        self.events = events
        self.network = network
    }

    public func send(_ message: Message) {
        network.deliverToCoordinator(MessageCodec.encode(message), from: peer)
    }

    public func close() {
        network.disconnect(peer)
    }
}
