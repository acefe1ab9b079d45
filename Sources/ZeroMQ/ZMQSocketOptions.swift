/// Settings for one socket, applied by ``ZMQLoop/open(_:options:bind:connect:)`` before it binds or connects.
///
/// Every field has a documented default; ``validate()`` (called by `open`) refuses values libzmq or the
/// loop cannot honour, with a message naming the field.
public struct ZMQSocketOptions: Sendable, Hashable {
    /// The routing id this socket announces to ROUTER peers (`ZMQ_ROUTING_ID`). Set it on dealers so the
    /// coordinator can address a worker by a stable name across reconnects. 1 to 255 bytes, and the first
    /// byte must not be 0 (libzmq reserves those ids). Default `nil`: libzmq picks a random id.
    public var identity: [UInt8]?
    /// The largest message accepted, all frames together (routing-id frame included), in bytes.
    /// Also passed to libzmq as `ZMQ_MAXMSGSIZE`, which applies per frame on TCP and disconnects a peer that
    /// sends a larger frame; below that, the loop drops over-size messages itself (``ZMQSocketEvent/dropped(reason:)``).
    /// Outgoing messages over this size fail with ``ZMQError/Code/messageTooLarge``. Default 64 MiB.
    public var maxMessageBytes: Int
    /// The largest single frame accepted, in bytes; larger frames make the loop drop the whole message.
    /// Outgoing frames over this size fail with ``ZMQError/Code/messageTooLarge``. Default 16 MiB.
    public var maxFrameBytes: Int
    /// The most frames in one message (a ROUTER's routing-id frame counts); messages with more are dropped
    /// on receive and refused on send. Default 16.
    public var maxFrames: Int
    /// `ZMQ_SNDHWM`: messages libzmq queues per peer before a send would block. When it is reached the
    /// loop keeps the message (and everything after it) queued, in order, and retries when the socket is
    /// writable again. 0 means no limit. Default 10 000.
    public var sendHighWaterMark: Int32
    /// `ZMQ_RCVHWM`: messages libzmq queues per peer on receive. 0 means no limit. Default 10 000.
    public var receiveHighWaterMark: Int32
    /// `ZMQ_LINGER`: how long closing the socket waits to flush messages already handed to libzmq, in
    /// milliseconds; -1 waits forever (and would stall ``ZMQLoop/shutdown()``). Default 0.
    public var lingerMilliseconds: Int32
    /// `ZMQ_HEARTBEAT_IVL`: interval of ZMTP PING frames, in milliseconds. Default `nil` (off).
    public var heartbeatIntervalMilliseconds: Int32?
    /// `ZMQ_HEARTBEAT_TIMEOUT`: how long to wait for traffic after a PING before closing the connection,
    /// in milliseconds. Default `nil` (libzmq uses the heartbeat interval).
    public var heartbeatTimeoutMilliseconds: Int32?
    /// `ZMQ_RECONNECT_IVL`: delay before a connecting socket retries, in milliseconds. Default `nil`
    /// (libzmq's 100 ms).
    public var reconnectIntervalMilliseconds: Int32?
    /// `ZMQ_ROUTER_HANDOVER` (ROUTER only): when a peer connects with a routing id already in use, the new
    /// connection takes it over instead of being refused, so a restarted worker is reachable at once.
    /// Default `true`.
    public var routerHandover: Bool
    /// CURVE security (`ZMQ_CURVE_SERVER`, `ZMQ_CURVE_SECRETKEY`, `ZMQ_CURVE_PUBLICKEY`,
    /// `ZMQ_CURVE_SERVERKEY`): encrypted, authenticated connections. A server needs the loop's ZAP handler
    /// (``ZMQLoop/installZAPHandler(allowList:)``) and is refused without one. CURVE applies to `tcp://`
    /// and `ipc://`; libzmq does not run a security handshake over `inproc://`. Default `nil` (plain text).
    public var curve: ZMQCurveRole?
    /// `ZMQ_ZAP_DOMAIN`: the domain the ZAP handler is told about for this socket's handshakes; at most
    /// 255 bytes. Default `nil`.
    public var zapDomain: String?

    /// Makes options; every argument has the default documented on its property.
    public init(
        identity: [UInt8]? = nil,
        maxMessageBytes: Int = 64 << 20,
        maxFrameBytes: Int = 16 << 20,
        maxFrames: Int = 16,
        sendHighWaterMark: Int32 = 10_000,
        receiveHighWaterMark: Int32 = 10_000,
        lingerMilliseconds: Int32 = 0,
        heartbeatIntervalMilliseconds: Int32? = nil,
        heartbeatTimeoutMilliseconds: Int32? = nil,
        reconnectIntervalMilliseconds: Int32? = nil,
        routerHandover: Bool = true,
        curve: ZMQCurveRole? = nil,
        zapDomain: String? = nil
    ) {
        self.identity = identity
        self.maxMessageBytes = maxMessageBytes
        self.maxFrameBytes = maxFrameBytes
        self.maxFrames = maxFrames
        self.sendHighWaterMark = sendHighWaterMark
        self.receiveHighWaterMark = receiveHighWaterMark
        self.lingerMilliseconds = lingerMilliseconds
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.heartbeatTimeoutMilliseconds = heartbeatTimeoutMilliseconds
        self.reconnectIntervalMilliseconds = reconnectIntervalMilliseconds
        self.routerHandover = routerHandover
        self.curve = curve
        self.zapDomain = zapDomain
    }

    /// Throws ``ZMQError/Code/invalidArgument`` naming the first field whose value cannot be used.
    public func validate() throws(ZMQError) {
        func fail(_ message: String) -> ZMQError {
            ZMQError(code: .invalidArgument, message: "invalid ZMQSocketOptions: \(message)")
        }
        if let identity {
            guard (1...255).contains(identity.count) else {
                throw fail("identity must be 1 to 255 bytes, got \(identity.count)")
            }
            guard identity[0] != 0 else {
                throw fail("identity must not start with a 0 byte (libzmq reserves those routing ids)")
            }
        }
        guard maxMessageBytes > 0 else { throw fail("maxMessageBytes must be positive, got \(maxMessageBytes)") }
        guard maxFrameBytes > 0 else { throw fail("maxFrameBytes must be positive, got \(maxFrameBytes)") }
        guard maxFrames > 0 else { throw fail("maxFrames must be positive, got \(maxFrames)") }
        guard sendHighWaterMark >= 0 else { throw fail("sendHighWaterMark must be >= 0, got \(sendHighWaterMark)") }
        guard receiveHighWaterMark >= 0 else {
            throw fail("receiveHighWaterMark must be >= 0, got \(receiveHighWaterMark)")
        }
        guard lingerMilliseconds >= -1 else { throw fail("lingerMilliseconds must be >= -1, got \(lingerMilliseconds)") }
        if let value = heartbeatIntervalMilliseconds, value < 0 {
            throw fail("heartbeatIntervalMilliseconds must be >= 0, got \(value)")
        }
        if let value = heartbeatTimeoutMilliseconds, value < 0 {
            throw fail("heartbeatTimeoutMilliseconds must be >= 0, got \(value)")
        }
        if let value = reconnectIntervalMilliseconds, value < 0 {
            throw fail("reconnectIntervalMilliseconds must be >= 0, got \(value)")
        }
        if let zapDomain, zapDomain.utf8.count > 255 {
            throw fail("zapDomain must be at most 255 bytes, got \(zapDomain.utf8.count)")
        }
        // CURVE keys are checked when they are made (``ZMQCurveKey``, ``ZMQCurveKeyPair``).
    }
}
