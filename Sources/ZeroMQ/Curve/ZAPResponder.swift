import CZeroMQ
import Glibc

/// The loop thread's ZAP handler (ZAP 1.0, RFC 27): a REP socket bound at ``endpoint`` in the loop's
/// context, where libzmq sends one request per handshake on any socket with a security mechanism.
///
/// Served from the loop's `zmq_poll` like any socket and read with `ZMQ_DONTWAIT`, so it never blocks
/// the loop. Each CURVE request is answered from the ``ZMQCurveAllowList``: 200 with the client's public
/// key in Z85 as the user id, or 400 "key not allowed". Anything else (another mechanism, a malformed
/// request) is refused. Never leaves the loop thread (not `Sendable`).
final class ZAPResponder {
    /// Where libzmq looks for the handler of a context.
    static let endpoint = "inproc://zeromq.zap.01"

    let handle: UnsafeMutableRawPointer
    let allowList: ZMQCurveAllowList
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// Binds the REP socket in `context`.
    init(context: UnsafeMutableRawPointer, allowList: ZMQCurveAllowList) throws(ZMQError) {
        guard let handle = zmq_socket(context, ZMQ_REP) else {
            throw ZMQError.last("cannot create the ZAP handler's socket")
        }
        var linger: Int32 = 0
        _ = zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_bind(handle, Self.endpoint) == 0 else {
            let error = ZMQError.last("cannot bind the ZAP handler at \(Self.endpoint)")
            zmq_close(handle)
            throw error
        }
        self.handle = handle
        self.allowList = allowList
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Answers every request waiting, without blocking.
    func serve() {
        while let request = receiveRequest() {
            answer(request)
        }
    }

    /// Closes the socket; libzmq then finds no handler for later handshakes.
    func close() {
        zmq_close(handle)
    }

    // MARK: - Requests

    /// One request's frames, or nil when none is waiting.
    private func receiveRequest() -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        while true {
            if zmq_msg_recv(message, handle, ZMQ_DONTWAIT) < 0 {
                if zmq_errno() == EINTR { continue }
                // EAGAIN before the first frame: nothing waiting. (A request is delivered whole.)
                return frames.isEmpty ? nil : frames
            }
            let size = zmq_msg_size(message)
            let data = zmq_msg_data(message)
            frames.append(size == 0 || data == nil ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
            if zmq_msg_more(message) == 0 { return frames }
            // A request has 6 frames plus the mechanism's credentials; more is not a ZAP request.
            if frames.count > 16 { return frames }
        }
    }

    private func answer(_ frames: [[UInt8]]) {
        let requestID = frames.count > 1 ? frames[1] : []
        guard frames.count >= 6, String(decoding: frames[0], as: UTF8.self) == "1.0" else {
            _ = allowList.decide(nil)
            reply(requestID: requestID, status: "500", text: "malformed ZAP request", userID: "")
            return
        }
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        guard mechanism == "CURVE", frames.count == 7, let key = try? ZMQCurveKey(bytes: frames[6]) else {
            _ = allowList.decide(nil)
            reply(requestID: requestID, status: "400", text: "only CURVE clients are accepted", userID: "")
            return
        }
        if allowList.decide(key) {
            reply(requestID: requestID, status: "200", text: "OK", userID: key.z85)
        } else {
            reply(requestID: requestID, status: "400", text: "key not allowed", userID: "")
        }
    }

    private func reply(requestID: [UInt8], status: String, text: String, userID: String) {
        let frames: [[UInt8]] = [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
        for (index, frame) in frames.enumerated() {
            let flags = ZMQ_DONTWAIT | (index < frames.count - 1 ? ZMQ_SNDMORE : 0)
            while frame.withUnsafeBytes({ zmq_send(handle, $0.baseAddress, $0.count, flags) }) < 0 {
                // A REP reply to an inproc peer is not refused for back-pressure; EINTR is retried and
                // anything else (the requester went away) leaves nothing to answer.
                if zmq_errno() != EINTR { return }
            }
        }
    }
}
