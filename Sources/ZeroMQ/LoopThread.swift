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
        case .send(let id, let frames):
            guard let entry = entriesByID[id] else { return }  // closed: nothing to report to
            if let problem = Self.capViolation(frames, options: entry.options) {
                entry.events.yield(.sendFailed(frames: frames, error: problem))
                return
            }
            entry.outgoing.append(frames)
        case .close(let id):
            guard let entry = entriesByID.removeValue(forKey: id) else { return }
            entries.removeAll { $0 === entry }
            closeSocket(entry)
        }
    }

    private func openSocket(_ request: OpenRequest) throws(ZMQError) -> (SocketEntry, [String]) {
        let kind = request.type == .router ? ZMQ_ROUTER : ZMQ_DEALER
        guard let handle = zmq_socket(core.context.raw, kind) else {
            throw ZMQError.last("cannot create a \(request.type) socket")
        }
        do {
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
            if request.type == .router {
                try Self.set(handle, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY")
                try Self.set(handle, ZMQ_ROUTER_HANDOVER, options.routerHandover ? 1 : 0, "routerHandover")
            }
            var endpoints: [String] = []
            for endpoint in request.bind {
                try Self.check(zmq_bind(handle, endpoint), "cannot bind \(request.type) to \(endpoint)")
                endpoints.append(Self.lastEndpoint(handle) ?? endpoint)
            }
            for endpoint in request.connect {
                try Self.check(zmq_connect(handle, endpoint), "cannot connect \(request.type) to \(endpoint)")
            }
            let entry = SocketEntry(
                id: request.id, type: request.type, options: options, handle: handle, events: request.events)
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
        zmq_close(entry.handle)
        entry.events.finish()
    }

    private func tearDown() {
        for entry in entries { closeSocket(entry) }
        entries.removeAll()
        entriesByID.removeAll()
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
            while let frames = entry.outgoing.first {
                if entry.type == .router, entry.outgoing.nextFrame == 0, entry.parked[frames[0]] != nil {
                    entry.parked[frames[0]]?.append(frames)
                    entry.outgoing.removeFirst()
                    continue
                }
                switch sendHead(of: &entry.outgoing, on: entry) {
                case .sent, .failed:
                    if wasHeadBlocked { didUnblock = true }
                case .wouldBlock:
                    if entry.type == .router && entry.outgoing.nextFrame == 0 {
                        var queue = OutgoingQueue()
                        queue.append(frames)
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
                if zmq_msg_more(message) == 0 { break }
            }
            zmq_msg_close(message)
            zmq_msg_init(message)
            if let dropReason {
                entry.events.yield(.dropped(reason: "\(entry.type) dropped a \(frameCount)-frame, \(totalBytes)-byte message: \(dropReason)"))
            } else {
                entry.events.yield(.message(frames))
            }
        }
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
