extension ZMQLoop {
    /// Binds this loop's ZAP handler (RFC 27) at `inproc://zeromq.zap.01` in its context and serves it on
    /// the I/O thread: every CURVE handshake on a socket of this loop is answered from `allowList`.
    ///
    /// Install it before opening a CURVE server (``ZMQLoop/open(_:options:bind:connect:)`` refuses one
    /// without it), then prove it works with ``verifyCurveAuthentication(of:timeout:)``.
    ///
    /// - Throws: ``ZMQError``: `addressInUse` if the loop has a handler already, `terminated` after
    ///   ``shutdown()``.
    public func installZAPHandler(allowList: ZMQCurveAllowList) async throws {
        let core = self.core
        try await withCheckedThrowingContinuation { (reply: CheckedContinuation<Void, any Error>) in
            if !core.submit(.installZAP(allowList, reply: reply)) {
                reply.resume(throwing: ZMQError(code: .terminated, message: "cannot install a ZAP handler: the ZMQ loop has been shut down"))
            }
        }
        setZAPAllowList(allowList)
    }

    /// Closes the ZAP handler. CURVE servers already open stay open and libzmq then lets *every* client
    /// key through (its behaviour without a handler), which ``verifyCurveAuthentication(of:timeout:)``
    /// reports; meant for shutting down and for testing that check.
    public func removeZAPHandler() async {
        let core = self.core
        await withCheckedContinuation { (reply: CheckedContinuation<Void, Never>) in
            if !core.submit(.removeZAP(reply: reply)) { reply.resume() }
        }
        setZAPAllowList(nil)
    }

    /// Proves that handshakes on `server` (a CURVE server socket of this loop) are checked: connects a
    /// DEALER with a freshly generated random key pair to the server's first endpoint and waits until this
    /// loop's ZAP handler has seen and denied that key.
    ///
    /// A wildcard bind (`tcp://0.0.0.0:PORT`, `tcp://[::]:PORT`) is probed over loopback. The probe socket
    /// is closed before this returns. Takes one handshake's time when all is well.
    ///
    /// - Throws: ``ZMQError`` with code `permissionDenied` ("CURVE is on but no ZAP handler checked the
    ///   handshake") when the key was not denied within `timeout`, or `invalidArgument` when `server` is not
    ///   a bound CURVE server.
    public func verifyCurveAuthentication(of server: ZMQSocket, timeout: Duration = .seconds(2)) async throws {
        guard case .server(let serverPair) = server.curve, let bound = server.endpoints.first else {
            throw ZMQError(code: .invalidArgument, message: "the CURVE self-check needs a bound CURVE server socket")
        }
        let endpoint = Self.probeEndpoint(for: bound)
        let probe = try ZMQCurveKeyPair.generate()
        let options = ZMQSocketOptions(reconnectIntervalMilliseconds: 50, curve: .client(probe, serverPublicKey: serverPair.publicKey))
        let socket = try await open(.dealer, options: options, connect: [endpoint])
        defer { socket.close() }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let allowList = currentZAPAllowList, allowList.recentlyDenied.contains(probe.publicKey) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw ZMQError(
            code: .permissionDenied,
            message: "CURVE is on but no ZAP handler checked the handshake: a random key connecting to \(endpoint) was not denied within \(timeout)")
    }

    /// The allow-list of the installed ZAP handler, if any.
    var currentZAPAllowList: ZMQCurveAllowList? {
        zapAllowList.withLock { $0 }
    }

    /// An endpoint that reaches a socket bound at `bound`: wildcard addresses become loopback.
    static func probeEndpoint(for bound: String) -> String {
        for (wildcard, loopback) in [("tcp://0.0.0.0:", "tcp://127.0.0.1:"), ("tcp://[::]:", "tcp://[::1]:"), ("tcp://*:", "tcp://127.0.0.1:")]
        where bound.hasPrefix(wildcard) {
            return loopback + bound.dropFirst(wildcard.count)
        }
        return bound
    }
}
