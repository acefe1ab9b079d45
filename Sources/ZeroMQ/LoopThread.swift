import CZeroMQ
import Glibc

/// The body of the dedicated I/O thread: owns every libzmq socket of a ``ZMQLoop`` and is the only code
/// that calls into libzmq for them.
///
/// Each turn: `zmq_poll` on the wake-up pipe plus every socket (`POLLIN` always, `POLLOUT` only while a
/// send is blocked at the high-water mark), then run the queued commands, drain readable sockets with
/// `ZMQ_DONTWAIT`, and flush queued sends in order (per peer on a ROUTER). It blocks only inside `zmq_poll`.
final class LoopThread {
    /// Messages read from one socket per turn before the others get a go; `zmq_poll` is level-triggered
    /// for zmq sockets, so anything left is picked up on the next turn at once.
    static let receiveBatchLimit = 1024
    /// Retry interval, in milliseconds, for a socket that is backing off (see ``SocketEntry/isBackingOff``).
    static let backoffMilliseconds = 1

    private let core: LoopCore
    private var entries: [SocketEntry] = []
    private var entriesByID: [Int: SocketEntry] = [:]
    private var batch: [LoopCommand] = []
    private var pollItems: [zmq_pollitem_t] = []
    private var polled: [SocketEntry] = []
    /// The ZAP handler, once installed (``ZMQLoop/installZAPHandler(allowList:)``).
    private var zap: ZAPResponder?
    /// The ZAP handler's socket was readable in the latest `zmq_poll`.
    private var isZAPReadable = false
    /// CURVE clients whose monitor was polled, in poll-item order after the ZAP handler.
    private var monitored: [SocketEntry] = []
    /// Connections refused at the handshake, to connect again when due (see ``handshakeRetryMilliseconds``).
    private var handshakeRetries: [(socket: Int, endpoint: String, due: ContinuousClock.Instant)] = []
    /// Delay before a CURVE client connects again after its key was refused, in milliseconds.
    static let handshakeRetryMilliseconds = 1000
    /// One reusable message for receiving, heap-allocated so its address and alignment are stable.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    init(core: LoopCore) {
        self.core = core
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Runs until shutdown is requested, then closes every socket and terminates the context.
    func run() {
        while true {
            poll()
            let isShuttingDown = core.takeCommands(into: &batch)
            for command in batch { execute(command) }
            batch.removeAll(keepingCapacity: batch.capacity <= 4096)
            if isShuttingDown { break }
            // Handshakes wait on these answers: serve them before the other sockets' traffic.
            if isZAPReadable { zap?.serve() }
            for entry in monitored where entry.isMonitorReadable {
                readMonitor(entry)
            }
            if !handshakeRetries.isEmpty { retryHandshakes() }
            for entry in entries where entry.lastPollEvents & Int16(ZMQ_POLLIN) != 0 {
                receive(entry)
            }
            for entry in entries where entry.hasQueuedMessages {
                flush(entry, isWritable: entry.lastPollEvents & Int16(ZMQ_POLLOUT) != 0)
            }
        }
        tearDown()
    }

    // MARK: - Polling

    private func poll() {
        pollItems.removeAll(keepingCapacity: true)
        polled.removeAll(keepingCapacity: true)
        pollItems.append(zmq_pollitem_t(socket: nil, fd: core.wakeReadFD, events: Int16(ZMQ_POLLIN), revents: 0))
        var timeout = -1
        for entry in entries {
            var wanted = Int16(ZMQ_POLLIN)
            if entry.isBackingOff {
                timeout = Self.backoffMilliseconds
            } else if entry.isWaitingForWritable {
                wanted |= Int16(ZMQ_POLLOUT)
            }
            pollItems.append(zmq_pollitem_t(socket: entry.handle, fd: 0, events: wanted, revents: 0))
            polled.append(entry)
            entry.lastPollEvents = 0
        }
        isZAPReadable = false
        if let zap {
            pollItems.append(zmq_pollitem_t(socket: zap.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        monitored.removeAll(keepingCapacity: true)
        for entry in entries {
            guard let monitor = entry.monitor else { continue }
            pollItems.append(zmq_pollitem_t(socket: monitor, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
            monitored.append(entry)
            entry.isMonitorReadable = false
        }
        if let first = handshakeRetries.map(\.due).min() {
            let wait = first - ContinuousClock.now
            let milliseconds = max(0, Int(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000) + 1)
            timeout = timeout < 0 ? milliseconds : min(timeout, milliseconds)
        }
        let count = Int32(pollItems.count)
        let result = pollItems.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, count, timeout) }
        if result < 0 {
            // EINTR: a signal; ETERM cannot happen (only this thread terminates the context). Either way the
            // turn goes on with no events and the next poll retries.
            return
        }
        if pollItems[0].revents & Int16(ZMQ_POLLIN) != 0 {
            core.drainWakeups()
        }
        for (index, entry) in polled.enumerated() {
            entry.lastPollEvents = pollItems[index + 1].revents
        }
        var index = polled.count + 1
        if zap != nil {
            isZAPReadable = pollItems[index].revents & Int16(ZMQ_POLLIN) != 0
            index += 1
        }
        for entry in monitored {
            entry.isMonitorReadable = pollItems[index].revents & Int16(ZMQ_POLLIN) != 0
            index += 1
        }
    }

    // MARK: - Commands

    private func execute(_ command: LoopCommand) {
        switch command {
        case .open(let request):
            do {
                let (entry, endpoints) = try openSocket(request)
                entries.append(entry)
                entriesByID[entry.id] = entry
                request.reply.resume(returning: endpoints)
            } catch {
                request.events.finish()
                request.reply.resume(throwing: error)
            }
        case .send(let id, let frames, let lane):
            guard let entry = entriesByID[id] else { return }  // closed: nothing to report to
            if let problem = Self.capViolation(frames, options: entry.options) {
                entry.events.yield(.sendFailed(frames: frames, error: problem))
                return
            }
            entry.outgoing.append(frames, lane: lane)
        case .close(let id):
            guard let entry = entriesByID.removeValue(forKey: id) else { return }
            entries.removeAll { $0 === entry }
            closeSocket(entry)
        case .installZAP(let allowList, let reply):
            guard zap == nil else {
                reply.resume(throwing: ZMQError(code: .addressInUse, message: "this ZMQ loop already has a ZAP handler"))
                return
            }
            do {
                zap = try ZAPResponder(context: core.context.raw, allowList: allowList)
                reply.resume()
            } catch {
                reply.resume(throwing: error)
            }
        case .removeZAP(let reply):
            zap?.close()
            zap = nil
            reply.resume()
        }
    }

    private func openSocket(_ request: OpenRequest) throws(ZMQError) -> (SocketEntry, [String]) {
        let kind = request.type == .router ? ZMQ_ROUTER : ZMQ_DEALER
        if case .server = request.options.curve, zap == nil {
            throw ZMQError(
                code: .invalidArgument,
                message: "cannot open a CURVE server socket without a ZAP handler: every handshake must be checked (install one with ZMQLoop.installZAPHandler)")
        }
        guard let handle = zmq_socket(core.context.raw, kind) else {
            throw ZMQError.last("cannot create a \(request.type) socket")
        }
        do throws(ZMQError) {
            let options = request.options
            try Self.set(handle, ZMQ_LINGER, options.lingerMilliseconds, "lingerMilliseconds")
            try Self.set(handle, ZMQ_SNDHWM, options.sendHighWaterMark, "sendHighWaterMark")
            try Self.set(handle, ZMQ_RCVHWM, options.receiveHighWaterMark, "receiveHighWaterMark")
            var maxSize = Int64(options.maxMessageBytes)
            try Self.check(zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &maxSize, 8), "set maxMessageBytes (ZMQ_MAXMSGSIZE)")
            if let value = options.heartbeatIntervalMilliseconds {
                try Self.set(handle, ZMQ_HEARTBEAT_IVL, value, "heartbeatIntervalMilliseconds")
            }
            if let value = options.heartbeatTimeoutMilliseconds {
                try Self.set(handle, ZMQ_HEARTBEAT_TIMEOUT, value, "heartbeatTimeoutMilliseconds")
            }
            if let value = options.reconnectIntervalMilliseconds {
                try Self.set(handle, ZMQ_RECONNECT_IVL, value, "reconnectIntervalMilliseconds")
            }
            if let identity = options.identity {
                let result = identity.withUnsafeBytes { zmq_setsockopt(handle, ZMQ_ROUTING_ID, $0.baseAddress, $0.count) }
                try Self.check(result, "set identity (ZMQ_ROUTING_ID)")
            }
            if let domain = options.zapDomain {
                try Self.check(zmq_setsockopt(handle, ZMQ_ZAP_DOMAIN, domain, domain.utf8.count), "set zapDomain (ZMQ_ZAP_DOMAIN)")
            }
            switch options.curve {
            case .server(let pair):
                try Self.set(handle, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
                try Self.setKey(handle, ZMQ_CURVE_SECRETKEY, pair.secretKey, "ZMQ_CURVE_SECRETKEY")
            case .client(let pair, let serverPublicKey):
                try Self.setKey(handle, ZMQ_CURVE_SERVERKEY, serverPublicKey, "ZMQ_CURVE_SERVERKEY")
                try Self.setKey(handle, ZMQ_CURVE_PUBLICKEY, pair.publicKey, "ZMQ_CURVE_PUBLICKEY")
                try Self.setKey(handle, ZMQ_CURVE_SECRETKEY, pair.secretKey, "ZMQ_CURVE_SECRETKEY")
            case nil:
                break
            }
            if request.type == .router {
                try Self.set(handle, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY")
                try Self.set(handle, ZMQ_ROUTER_HANDOVER, options.routerHandover ? 1 : 0, "routerHandover")
            }
            var endpoints: [String] = []
            for endpoint in request.bind {
                try Self.check(zmq_bind(handle, endpoint), "cannot bind \(request.type) to \(endpoint)")
                endpoints.append(Self.lastEndpoint(handle) ?? endpoint)
            }
            // A CURVE client whose key the server refuses is given up by libzmq for good; watch for that
            // and connect again later (the key may be allowed by then).
            var monitor: UnsafeMutableRawPointer?
            if case .client = options.curve, !request.connect.isEmpty {
                monitor = try openMonitor(for: handle, id: request.id)
            }
            for endpoint in request.connect {
                do throws(ZMQError) {
                    try Self.check(zmq_connect(handle, endpoint), "cannot connect \(request.type) to \(endpoint)")
                } catch {
                    if let monitor { Self.closeMonitor(monitor, of: handle) }
                    throw error
                }
            }
            let entry = SocketEntry(
                id: request.id, type: request.type, options: options, handle: handle, events: request.events)
            entry.monitor = monitor
            return (entry, endpoints)
        } catch {
            zmq_close(handle)
            throw error
        }
    }

    private func closeSocket(_ entry: SocketEntry) {
        // Hand over what libzmq will take now; with the default linger of 0 it discards it on close anyway.
        if !entry.outgoing.isEmpty && !entry.isHeadBlocked { flush(entry, isWritable: false) }
        entry.outgoing.removeAll()
        entry.parked.removeAll()
        if let monitor = entry.monitor { Self.closeMonitor(monitor, of: entry.handle) }
        entry.monitor = nil
        zmq_close(entry.handle)
        entry.events.finish()
    }

    private func tearDown() {
        for entry in entries { closeSocket(entry) }
        entries.removeAll()
        entriesByID.removeAll()
        zap?.close()
        zap = nil
        while zmq_ctx_term(core.context.raw) != 0 && zmq_errno() == EINTR {}
    }

    // MARK: - Sending

    /// What happened to the message at the head of a queue.
    private enum SendOutcome {
        /// libzmq took every frame.
        case sent
        /// libzmq refused it for good (reported as ``ZMQSocketEvent/sendFailed(frames:error:)``).
        case failed
        /// `EAGAIN`: the high-water mark is reached; the message stays at the head with its progress.
        case wouldBlock
    }

    /// Hands queued messages to libzmq in order, keeping what it will not take yet.
    ///
    /// A DEALER's whole queue waits behind a blocked head. A ROUTER parks a blocked message in a queue for
    /// its peer and carries on with the others, so one slow peer does not hold up the rest; per-peer order
    /// is kept because later messages to a parked peer join its queue. Blocked work is retried when
    /// `zmq_poll` reports `POLLOUT` or, when that proved to be no help, on a short timer.
    private func flush(_ entry: SocketEntry, isWritable: Bool) {
        let isRetryDue = isWritable || entry.isBackingOff
        var didUnblock = false
        if isRetryDue && !entry.parked.isEmpty {
            for peer in Array(entry.parked.keys) {
                guard var queue = entry.parked.removeValue(forKey: peer) else { continue }
                while queue.first != nil {
                    let outcome = sendHead(of: &queue, on: entry)
                    if outcome == .wouldBlock { break }
                    didUnblock = true
                }
                if !queue.isEmpty { entry.parked[peer] = queue }
            }
        }
        if !entry.outgoing.isEmpty && (!entry.isHeadBlocked || isRetryDue) {
            let wasHeadBlocked = entry.isHeadBlocked
            entry.isHeadBlocked = false
            while let frames = entry.outgoing.first, let lane = entry.outgoing.headLane {
                if entry.type == .router, entry.outgoing.nextFrame == 0, entry.parked[frames[0]] != nil {
                    entry.parked[frames[0]]?.append(frames, lane: lane)
                    entry.outgoing.removeFirst()
                    continue
                }
                switch sendHead(of: &entry.outgoing, on: entry) {
                case .sent, .failed:
                    if wasHeadBlocked { didUnblock = true }
                case .wouldBlock:
                    if entry.type == .router && entry.outgoing.nextFrame == 0 {
                        var queue = OutgoingQueue()
                        queue.append(frames, lane: lane)
                        entry.parked[frames[0]] = queue
                        entry.outgoing.removeFirst()
                    } else {
                        // A DEALER, or a message half handed over: nothing else may go first.
                        entry.isHeadBlocked = true
                    }
                }
                if entry.isHeadBlocked { break }
            }
        }
        let isWaiting = entry.isHeadBlocked || !entry.parked.isEmpty
        entry.isWaitingForWritable = isWaiting
        // Told writable (or retry due) yet nothing blocked moved: a ROUTER is writable when *any* peer is,
        // so poll on a timer instead of spinning on POLLOUT.
        entry.isBackingOff = isWaiting && isRetryDue && !didUnblock
    }

    /// Sends the head message of `queue` from its recorded progress and removes it unless libzmq says
    /// `EAGAIN`.
    private func sendHead(of queue: inout OutgoingQueue, on entry: SocketEntry) -> SendOutcome {
        guard let frames = queue.first else { return .sent }
        var index = queue.nextFrame
        while index < frames.count {
            let flags = ZMQ_DONTWAIT | (index < frames.count - 1 ? ZMQ_SNDMORE : 0)
            let result = frames[index].withUnsafeBytes { zmq_send(entry.handle, $0.baseAddress, $0.count, flags) }
            if result >= 0 {
                index += 1
                continue
            }
            let number = zmq_errno()
            if number == EINTR { continue }
            if number == EAGAIN {
                queue.nextFrame = index
                return .wouldBlock
            }
            queue.removeFirst()
            let error = ZMQError(
                code: .init(rawValue: number),
                message: "\(entry.type) could not send a \(frames.count)-frame message: \(String(cString: zmq_strerror(number)))")
            entry.events.yield(.sendFailed(frames: frames, error: error))
            return .failed
        }
        queue.removeFirst()
        return .sent
    }

    // MARK: - Receiving

    /// Reads whole messages with `ZMQ_DONTWAIT` until `EAGAIN` or the batch limit, delivering each one or
    /// dropping it whole when it breaks a cap.
    private func receive(_ entry: SocketEntry) {
        let options = entry.options
        for _ in 0..<Self.receiveBatchLimit {
            var frames: [[UInt8]] = []
            var frameCount = 0
            var totalBytes = 0
            var dropReason: String?
            var userID: String?
            while true {
                // zmq_msg_recv releases what `message` held before it stores the next frame.
                if zmq_msg_recv(message, entry.handle, ZMQ_DONTWAIT) < 0 {
                    let number = zmq_errno()
                    if number == EINTR { continue }
                    if frameCount == 0 { return }  // EAGAIN: drained (or ETERM: closing)
                    // Multipart messages are atomic in libzmq, so this does not happen; never deliver a part.
                    entry.events.yield(.dropped(reason: "message truncated after \(frameCount) frames: \(String(cString: zmq_strerror(number)))"))
                    return
                }
                let size = zmq_msg_size(message)
                frameCount += 1
                totalBytes += size
                if dropReason == nil {
                    if size > options.maxFrameBytes {
                        dropReason = "frame \(frameCount) is \(size) bytes, over maxFrameBytes \(options.maxFrameBytes)"
                    } else if frameCount > options.maxFrames {
                        dropReason = "message has more than maxFrames \(options.maxFrames) frames"
                    } else if totalBytes > options.maxMessageBytes {
                        dropReason = "message exceeds maxMessageBytes \(options.maxMessageBytes)"
                    }
                    if dropReason != nil {
                        frames = []
                    } else {
                        let source = zmq_msg_data(message)
                        frames.append([UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                            if size > 0, let source { buffer.baseAddress!.initialize(from: source.assumingMemoryBound(to: UInt8.self), count: size) }
                            initialized = size
                        })
                    }
                }
                if zmq_msg_more(message) == 0 {
                    // Every frame of a connection carries its metadata; one lookup per message.
                    if entry.readsUserID, let text = zmq_msg_gets(message, "User-Id") {
                        userID = String(cString: text)
                    }
                    break
                }
            }
            zmq_msg_close(message)
            zmq_msg_init(message)
            if let dropReason {
                entry.events.yield(.dropped(reason: "\(entry.type) dropped a \(frameCount)-frame, \(totalBytes)-byte message: \(dropReason)"))
            } else {
                entry.events.yield(.message(frames, userID: userID))
            }
        }
    }

    // MARK: - Handshake failures

    /// A PAIR socket receiving `handle`'s authentication failures (`zmq_socket_monitor`).
    private func openMonitor(for handle: UnsafeMutableRawPointer, id: Int) throws(ZMQError) -> UnsafeMutableRawPointer {
        let endpoint = "inproc://conduit-zmq-monitor-\(id)"
        try Self.check(zmq_socket_monitor(handle, endpoint, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), "cannot monitor a CURVE client's handshakes")
        guard let monitor = zmq_socket(core.context.raw, ZMQ_PAIR) else {
            let error = ZMQError.last("cannot create a monitor socket")
            _ = zmq_socket_monitor(handle, nil, 0)
            throw error
        }
        var linger: Int32 = 0
        _ = zmq_setsockopt(monitor, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_connect(monitor, endpoint) == 0 else {
            let error = ZMQError.last("cannot connect a monitor socket")
            Self.closeMonitor(monitor, of: handle)
            throw error
        }
        return monitor
    }

    private static func closeMonitor(_ monitor: UnsafeMutableRawPointer, of handle: UnsafeMutableRawPointer) {
        _ = zmq_socket_monitor(handle, nil, 0)
        zmq_close(monitor)
    }

    /// Reads the monitor's events (two frames each: event number and value, then the endpoint) and
    /// schedules a new connection for each refused handshake.
    private func readMonitor(_ entry: SocketEntry) {
        guard let monitor = entry.monitor else { return }
        while true {
            var frames: [[UInt8]] = []
            while true {
                if zmq_msg_recv(message, monitor, ZMQ_DONTWAIT) < 0 {
                    if zmq_errno() == EINTR { continue }
                    break
                }
                let size = zmq_msg_size(message)
                let data = zmq_msg_data(message)
                frames.append(size == 0 || data == nil ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
                if zmq_msg_more(message) == 0 { break }
            }
            zmq_msg_close(message)
            zmq_msg_init(message)
            guard frames.count == 2, frames[0].count >= 2 else { return }
            let event = Int32(frames[0][0]) | Int32(frames[0][1]) << 8  // uint16, host order (little-endian here)
            guard event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH else { continue }
            let endpoint = String(decoding: frames[1], as: UTF8.self)
            entry.events.yield(.handshakeRefused(endpoint: endpoint))
            let due = ContinuousClock.now + .milliseconds(Self.handshakeRetryMilliseconds)
            if !handshakeRetries.contains(where: { $0.socket == entry.id && $0.endpoint == endpoint }) {
                handshakeRetries.append((entry.id, endpoint, due))
            }
        }
    }

    /// Connects again to every endpoint whose retry is due (sockets closed since are skipped).
    private func retryHandshakes() {
        let now = ContinuousClock.now
        var waiting: [(socket: Int, endpoint: String, due: ContinuousClock.Instant)] = []
        for retry in handshakeRetries {
            guard let entry = entriesByID[retry.socket] else { continue }
            if retry.due > now {
                waiting.append(retry)
            } else {
                // The refused connection still holds the endpoint; a connect beside it would never start.
                _ = zmq_disconnect(entry.handle, retry.endpoint)
                _ = zmq_connect(entry.handle, retry.endpoint)
            }
        }
        handshakeRetries = waiting
    }

    // MARK: - Helpers

    /// Why outgoing `frames` cannot be sent under `options` (no frames, or over a cap), or `nil`.
    static func capViolation(_ frames: [[UInt8]], options: ZMQSocketOptions) -> ZMQError? {
        if frames.isEmpty {
            return ZMQError(code: .invalidArgument, message: "cannot send a message with no frames")
        }
        if frames.count > options.maxFrames {
            return ZMQError(code: .messageTooLarge, message: "message has \(frames.count) frames, over maxFrames \(options.maxFrames)")
        }
        var total = 0
        for (index, frame) in frames.enumerated() {
            if frame.count > options.maxFrameBytes {
                return ZMQError(code: .messageTooLarge, message: "frame \(index + 1) is \(frame.count) bytes, over maxFrameBytes \(options.maxFrameBytes)")
            }
            total += frame.count
        }
        if total > options.maxMessageBytes {
            return ZMQError(code: .messageTooLarge, message: "message is \(total) bytes, over maxMessageBytes \(options.maxMessageBytes)")
        }
        return nil
    }

    private static func set(_ handle: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        var value = value
        try check(zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size), "set \(name)")
    }

    private static func setKey(_ handle: UnsafeMutableRawPointer, _ option: Int32, _ key: ZMQCurveKey, _ name: String) throws(ZMQError) {
        let result = key.bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        try check(result, "set \(name) (is libzmq built with CURVE support?)")
    }

    private static func check(_ result: Int32, _ context: @autoclosure () -> String) throws(ZMQError) {
        if result != 0 { throw ZMQError.last(context()) }
    }

    private static func lastEndpoint(_ handle: UnsafeMutableRawPointer) -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
