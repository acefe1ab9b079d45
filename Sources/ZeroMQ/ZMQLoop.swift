import CZeroMQ
import Glibc
import Synchronization

/// One zmq context and the single I/O thread that owns every socket opened through it.
///
/// libzmq sockets are not thread-safe, so no zmq call happens outside this thread: ``open(_:options:bind:connect:)``,
/// ``ZMQSocket/send(_:)`` and ``ZMQSocket/close()`` queue a command under a mutex and wake the thread through
/// a pipe that sits in its `zmq_poll` item list; received messages and send failures come back on each
/// socket's ``ZMQSocket/events`` stream. The thread is a plain pthread blocked in `zmq_poll`, never a task on
/// Swift's cooperative pool. Create one loop per process and call ``shutdown()`` when done (dropping the
/// last reference to the loop and its sockets does it too).
public final class ZMQLoop: Sendable {
    let core: LoopCore
    /// The I/O thread until the first ``shutdown()`` joins it.
    private let thread: Mutex<pthread_t?>
    private let nextSocketID = Atomic<Int>(0)
    /// The allow-list of the installed ZAP handler, if any.
    let zapAllowList = Mutex<ZMQCurveAllowList?>(nil)

    /// Creates the zmq context and starts the I/O thread.
    ///
    /// - Throws: ``ZMQError`` if the context, the wake-up pipe or the thread cannot be created.
    public init() throws {
        let core = try LoopCore()
        self.core = core
        var handle = pthread_t()
        let retained = Unmanaged.passRetained(core)
        let result = pthread_create(&handle, nil, { argument in
            let core = Unmanaged<LoopCore>.fromOpaque(argument!).takeRetainedValue()
            LoopThread(core: core).run()
            return nil
        }, retained.toOpaque())
        guard result == 0 else {
            retained.release()
            zmq_ctx_term(core.context.raw)
            throw ZMQError(code: .init(rawValue: result), message: "cannot start the ZMQ I/O thread: \(String(cString: strerror(result)))")
        }
        thread = Mutex(handle)
    }

    deinit {
        shutdown()
    }

    /// Opens a socket on the I/O thread, applies `options`, binds to each of `bind`, then connects to each of
    /// `connect`.
    ///
    /// Endpoints are zmq's (`inproc://name`, `tcp://127.0.0.1:*` for an ephemeral port, `tcp://host:port`);
    /// ``ZMQSocket/endpoints`` reports what was actually bound. The socket stays open until
    /// ``ZMQSocket/close()`` or ``shutdown()``, whether or not anything still references it.
    ///
    /// - Throws: ``ZMQError``: `invalidArgument` for bad options or endpoints, `addressInUse`, …, or
    ///   `terminated` after ``shutdown()``.
    public func open(
        _ type: ZMQSocketType,
        options: ZMQSocketOptions = .init(),
        bind: [String] = [],
        connect: [String] = []
    ) async throws -> ZMQSocket {
        try options.validate()
        let id = nextSocketID.add(1, ordering: .relaxed).newValue
        let (events, stream) = AsyncStream.makeStream(of: ZMQSocketEvent.self, bufferingPolicy: .unbounded)
        let backlog = EventBacklog()
        let continuation = SocketEventSink(continuation: stream, backlog: backlog)
        let core = self.core
        let endpoints: [String] = try await withCheckedThrowingContinuation { reply in
            let request = OpenRequest(
                id: id, type: type, options: options, bind: bind, connect: connect, events: continuation, reply: reply)
            if !core.submit(.open(request)) {
                continuation.finish()
                reply.resume(throwing: ZMQError(
                    code: .terminated, message: "cannot open a \(type) socket: the ZMQ loop has been shut down"))
            }
        }
        return ZMQSocket(
            loop: self, id: id, type: type, endpoints: endpoints, curve: options.curve, events: events, backlog: backlog)
    }

    /// Records which allow-list the installed ZAP handler answers from.
    func setZAPAllowList(_ allowList: ZMQCurveAllowList?) {
        zapAllowList.withLock { $0 = allowList }
    }

    /// Closes every socket (finishing their event streams), terminates the zmq context and joins the I/O
    /// thread. Idempotent and safe from any thread; concurrent callers all return once the thread is gone.
    ///
    /// Blocks the caller only for as long as closing takes (immediate with the default linger of 0).
    /// Messages still queued in the loop are discarded; later sends are ignored and later opens throw.
    public func shutdown() {
        _ = core.requestShutdown()
        thread.withLock { handle in
            guard let joining = handle else { return }
            precondition(pthread_equal(joining, pthread_self()) == 0, "ZMQLoop.shutdown() called on its own I/O thread")
            pthread_join(joining, nil)
            handle = nil
        }
    }
}
