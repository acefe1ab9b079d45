import Protocol
import ZeroMQ

/// Holds a socket's event iterator so that an `AsyncStream(unfolding:)` closure can advance it.
///
/// `@unchecked Sendable`: each transport's `events` stream has a single consumer, so `next()` is
/// never awaited twice at once and the iterator is only touched by that consumer.
final class SocketEventSource: @unchecked Sendable {
    private var iterator: AsyncStream<ZMQSocketEvent>.Iterator

    private let socket: ZMQSocket

    init(_ socket: ZMQSocket) {
        self.socket = socket
        iterator = socket.events.makeAsyncIterator()
    }

    func next() async -> ZMQSocketEvent? {
        let event = await iterator.next()
        if event != nil { socket.eventTaken() }
        return event
    }
}

/// Socket settings shared by both ends: size caps and ZMTP heartbeats.
public enum ConduitSocketDefaults {
    /// The largest message accepted: a chunk (2 MiB by default) plus its small header and body.
    public static let maximumMessageBytes = 16 << 20
    /// A single frame's cap.
    public static let maximumFrameBytes = 8 << 20

    static func options(identity: [UInt8]? = nil) -> ZMQSocketOptions {
        var options = ZMQSocketOptions()
        options.identity = identity
        options.maxMessageBytes = maximumMessageBytes
        options.maxFrameBytes = maximumFrameBytes
        options.maxFrames = 4
        options.heartbeatIntervalMilliseconds = 1000
        options.heartbeatTimeoutMilliseconds = 5000
        options.reconnectIntervalMilliseconds = 200
        return options
    }
}

/// The coordinator's transport over a ZeroMQ ROUTER socket (`ROUTER_MANDATORY` on).
public final class ZMQCoordinatorTransport: CoordinatorTransport {
    private let socket: ZMQSocket
    public let events: AsyncStream<CoordinatorTransportEvent>
    /// The endpoints actually bound (with the real port for `tcp://host:*`).
    public var endpoints: [String] { socket.endpoints }

    /// Binds a ROUTER socket on `loop` at `endpoint` (e.g. `tcp://0.0.0.0:5555`, `inproc://conduit`).
    ///
    /// With ``TransportSecurity/curveServer(keys:allowList:)`` it first installs the loop's ZAP handler
    /// (answering from the allow-list), binds a CURVE server, then checks itself: a random key must be
    /// seen and denied by the handler, or this throws (CURVE is not applied over `inproc://`, so such an
    /// endpoint fails the check). Each received message then carries its sender's checked key.
    ///
    /// - Throws: ``ZeroMQ/ZMQError`` when the socket cannot be bound or the self-check fails;
    ///   `invalidArgument` for ``TransportSecurity/curveClient(keys:coordinatorKey:)``.
    public init(loop: ZMQLoop, endpoint: String, security: TransportSecurity = .plaintext) async throws {
        var options = ConduitSocketDefaults.options()
        options.routerHandover = true
        switch security {
        case .plaintext:
            break
        case .curveServer(let keys, let allowList):
            try await loop.installZAPHandler(allowList: allowList.keys)
            options.curve = .server(keys)
            options.zapDomain = "conduit"
        case .curveClient:
            throw ZMQError(code: .invalidArgument, message: "the coordinator's transport needs curveServer security, not curveClient")
        }
        let socket = try await loop.open(.router, options: options, bind: [endpoint])
        if case .curveServer = security {
            do {
                try await loop.verifyCurveAuthentication(of: socket)
            } catch {
                socket.close()
                throw error
            }
        }
        self.socket = socket
        let source = SocketEventSource(socket)
        events = AsyncStream(unfolding: {
            while let event = await source.next() {
                switch event {
                case .message(let frames, let userID):
                    guard let identity = frames.first else { continue }
                    let peer = PeerID(identity)
                    do throws(ProtocolError) {
                        var message = try MessageCodec.decode(Array(frames.dropFirst()))
                        message.authenticatedKey = userID
                        return .message(peer, message)
                    } catch {
                        return .malformed(peer, error)
                    }
                case .dropped(let reason):
                    return .malformed(PeerID([]), ProtocolError(.tooLarge, reason))
                case .sendFailed(let frames, let error):
                    return .undeliverable(PeerID(frames.first ?? []), reason: "\(error)")
                case .handshakeRefused:
                    continue  // only CURVE clients are refused; a server's socket never is
                }
            }
            return nil
        })
    }

    public var pendingEvents: Int { socket.pendingEvents }

    public func send(_ message: Message, to peer: PeerID) {
        socket.send([peer.bytes] + MessageCodec.encode(message), lane: message.payload.isTransferChunk ? .bulk : .control)
    }

    public func close() {
        socket.close()
    }
}

/// A worker's transport over a ZeroMQ DEALER socket connected to the coordinator.
public final class ZMQWorkerTransport: WorkerTransport {
    private let socket: ZMQSocket
    public let events: AsyncStream<WorkerTransportEvent>

    /// Connects a DEALER socket on `loop` to `endpoint` (e.g. `tcp://head:5555`).
    ///
    /// With ``TransportSecurity/curveClient(keys:coordinatorKey:)`` nothing passes until a coordinator
    /// holding `coordinatorKey` accepts this worker's key; until then libzmq retries the handshake every
    /// reconnect interval.
    ///
    /// - Throws: ``ZeroMQ/ZMQError``; `invalidArgument` for ``TransportSecurity/curveServer(keys:allowList:)``.
    public init(loop: ZMQLoop, endpoint: String, identity: [UInt8], security: TransportSecurity = .plaintext) async throws {
        var options = ConduitSocketDefaults.options(identity: identity)
        switch security {
        case .plaintext:
            break
        case .curveClient(let keys, let coordinatorKey):
            options.curve = .client(keys, serverPublicKey: coordinatorKey)
        case .curveServer:
            throw ZMQError(code: .invalidArgument, message: "a worker's transport needs curveClient security, not curveServer")
        }
        socket = try await loop.open(.dealer, options: options, connect: [endpoint])
        let source = SocketEventSource(socket)
        events = AsyncStream(unfolding: {
            while let event = await source.next() {
                switch event {
                case .message(let frames, _):
                    do throws(ProtocolError) {
                        return .message(try MessageCodec.decode(frames))
                    } catch {
                        return .malformed(error)
                    }
                case .dropped(let reason):
                    return .malformed(ProtocolError(.tooLarge, reason))
                case .sendFailed:
                    continue
                case .handshakeRefused(let endpoint):
                    return .handshakeRefused(endpoint: endpoint)
                }
            }
            return nil
        })
    }

    public func send(_ message: Message) {
        socket.send(MessageCodec.encode(message), lane: message.payload.isTransferChunk ? .bulk : .control)
    }

    public func close() {
        socket.close()
    }
}
