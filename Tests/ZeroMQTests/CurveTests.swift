import Foundation
import Testing
import ZeroMQ

/// A loop with a ZAP handler and a CURVE server (ROUTER) bound on loopback TCP.
private struct CurveServer {
    let loop: ZMQLoop
    let allowList: ZMQCurveAllowList
    let keys: ZMQCurveKeyPair
    let router: ZMQSocket

    static func start(allowing allowed: [ZMQCurveKey] = []) async throws -> CurveServer {
        let loop = try ZMQLoop()
        let allowList = ZMQCurveAllowList(allowed)
        try await loop.installZAPHandler(allowList: allowList)
        let keys = try ZMQCurveKeyPair.generate()
        let router = try await loop.open(.router, options: ZMQSocketOptions(curve: .server(keys)), bind: ["tcp://127.0.0.1:*"])
        return CurveServer(loop: loop, allowList: allowList, keys: keys, router: router)
    }

    /// A DEALER on `loop` with `keys`, pinning `serverKey` (the server's own by default).
    func client(_ keys: ZMQCurveKeyPair, on loop: ZMQLoop, serverKey: ZMQCurveKey? = nil) async throws -> ZMQSocket {
        let options = ZMQSocketOptions(reconnectIntervalMilliseconds: 50, curve: .client(keys, serverPublicKey: serverKey ?? self.keys.publicKey))
        return try await loop.open(.dealer, options: options, connect: router.endpoints)
    }
}

/// Waits until `condition` holds, polling, for at most `seconds`.
private func eventually(_ seconds: Double = 5, _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite("CURVE and the ZAP handler", .timeLimit(.minutes(2)))
struct CurveTests {
    @Test("a generated key pair round-trips through Z85, and the public key derives from the secret")
    func keysRoundTrip() throws {
        let pair = try ZMQCurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40 && pair.secretKey.z85.count == 40)
        #expect(try ZMQCurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try ZMQCurveKey(bytes: pair.secretKey.bytes) == pair.secretKey)
        #expect(try ZMQCurveKeyPair.publicKey(fromSecret: pair.secretKey) == pair.publicKey)
        #expect(try ZMQCurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(try ZMQCurveKeyPair.generate() != pair)
        #expect(!pair.description.contains(pair.secretKey.z85))
        #expect(!pair.secretKey.description.contains(pair.secretKey.z85))
    }

    @Test("malformed keys are refused", arguments: ["", "short", String(repeating: "a", count: 39), String(repeating: "~", count: 40)])
    func malformedKeys(_ text: String) {
        #expect(throws: ZMQError.self) { try ZMQCurveKey(z85: text) }
    }

    @Test("a key of the wrong byte length is refused")
    func wrongLength() {
        #expect(throws: ZMQError.self) { try ZMQCurveKey(bytes: [UInt8](repeating: 1, count: 31)) }
    }

    @Test("an allowed client exchanges messages and the server sees its public key as the user id")
    func allowedClient() async throws {
        let clientKeys = try ZMQCurveKeyPair.generate()
        let server = try await CurveServer.start(allowing: [clientKeys.publicKey])
        defer { server.loop.shutdown() }
        let clientLoop = try ZMQLoop()
        defer { clientLoop.shutdown() }
        let dealer = try await server.client(clientKeys, on: clientLoop)
        dealer.send([Array("hello".utf8)])
        let event = try await nextEvent(server.router, "the client's hello")
        guard case .message(let frames, let userID) = event else {
            Issue.record("expected a message, got \(event)")
            return
        }
        #expect(frames.last == Array("hello".utf8))
        #expect(userID == clientKeys.publicKey.z85)
        server.router.send([frames[0], Array("welcome".utf8)])
        let reply = try await nextMessage(dealer, "the server's reply")
        #expect(reply == [Array("welcome".utf8)])
        #expect(server.allowList.counts.allowed == 1)
    }

    @Test("a client whose key is not allowed gets nothing through, until its key is allowed")
    func deniedClient() async throws {
        let server = try await CurveServer.start()
        defer { server.loop.shutdown() }
        let clientLoop = try ZMQLoop()
        defer { clientLoop.shutdown() }
        let stranger = try ZMQCurveKeyPair.generate()
        let dealer = try await server.client(stranger, on: clientLoop)
        dealer.send([Array("let me in".utf8)])
        #expect(try await eventually { server.allowList.recentlyDenied.contains(stranger.publicKey) })
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.router.pendingEvents == 0, "a denied client's message reached the server")

        // Allowed later: the loop connects again after the refusal, and the next message passes.
        server.allowList.allow(stranger.publicKey)
        try await Task.sleep(for: .milliseconds(1500))
        dealer.send([Array("now?".utf8)])
        // The message queued while the key was refused may come first, on the new (authenticated)
        // connection; either way every message that gets through carries the now-allowed key.
        var received: [[UInt8]] = []
        while received.last != Array("now?".utf8) && received.count < 2 {
            let event = try await nextEvent(server.router, "the message after the key was allowed")
            guard case .message(let frames, let userID) = event else {
                Issue.record("expected a message, got \(event)")
                return
            }
            #expect(userID == stranger.publicKey.z85)
            received.append(frames.last ?? [])
        }
        #expect(received.last == Array("now?".utf8), "\(received.map { String(decoding: $0, as: UTF8.self) })")
        #expect(received.dropLast().allSatisfy { $0 == Array("let me in".utf8) })
    }

    @Test("a client pinning the wrong server key gets nothing through")
    func wrongServerKey() async throws {
        let clientKeys = try ZMQCurveKeyPair.generate()
        let server = try await CurveServer.start(allowing: [clientKeys.publicKey])
        defer { server.loop.shutdown() }
        let clientLoop = try ZMQLoop()
        defer { clientLoop.shutdown() }
        let impostorKey = try ZMQCurveKeyPair.generate().publicKey
        let dealer = try await server.client(clientKeys, on: clientLoop, serverKey: impostorKey)
        dealer.send([Array("secret".utf8)])
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.router.pendingEvents == 0, "a message reached a server the client did not pin")
        #expect(server.allowList.counts.allowed == 0, "the handshake got as far as the ZAP handler")
    }

    @Test("a CURVE server cannot be opened on a loop without a ZAP handler")
    func serverNeedsHandler() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let keys = try ZMQCurveKeyPair.generate()
        await #expect(throws: ZMQError.self) {
            _ = try await loop.open(.router, options: ZMQSocketOptions(curve: .server(keys)), bind: ["tcp://127.0.0.1:*"])
        }
    }

    @Test("the start-up self-check passes with the handler and fails once it is gone")
    func selfCheck() async throws {
        let server = try await CurveServer.start()
        defer { server.loop.shutdown() }
        try await server.loop.verifyCurveAuthentication(of: server.router)
        #expect(server.allowList.counts.denied >= 1)

        await server.loop.removeZAPHandler()
        do {
            try await server.loop.verifyCurveAuthentication(of: server.router, timeout: .milliseconds(500))
            Issue.record("the self-check passed with no ZAP handler")
        } catch let error as ZMQError {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("no ZAP handler checked the handshake"))
        }
    }

    @Test("a wildcard bind is probed over loopback")
    func probeEndpoint() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let allowList = ZMQCurveAllowList()
        try await loop.installZAPHandler(allowList: allowList)
        let router = try await loop.open(.router, options: ZMQSocketOptions(curve: .server(try .generate())), bind: ["tcp://0.0.0.0:*"])
        try await loop.verifyCurveAuthentication(of: router)
    }
}
