import Testing
import ZeroMQ

@Suite("ROUTER addressing", .timeLimit(.minutes(2)))
struct RouterTests {
    @Test("sending to an unknown peer fails with EHOSTUNREACH and the router keeps working", arguments: TestTransport.allCases)
    func unknownPeer(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport)
        let stray: [[UInt8]] = [Array("nobody".utf8), Array("lost".utf8)]
        pair.router.send(stray)
        let event = try await nextEvent(pair.router, "the send failure")
        guard case .sendFailed(let frames, let error) = event else {
            Issue.record("expected .sendFailed, got \(event)")
            return
        }
        #expect(frames == stray)
        #expect(error.code == .hostUnreachable)

        pair.router.send([pair.peer, Array("still here".utf8)])
        #expect(try await nextMessage(pair.dealer) == [Array("still here".utf8)])
    }

    @Test("two dealers are told apart by identity", arguments: TestTransport.allCases)
    func twoDealers(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let router = try await loop.open(.router, bind: [transport.bindEndpoint()])
        let alice = try await loop.open(.dealer, options: .init(identity: Array("worker-a".utf8)), connect: router.endpoints)
        let bob = try await loop.open(.dealer, options: .init(identity: Array("worker-b".utf8)), connect: router.endpoints)
        alice.send([Array("from a".utf8)])
        bob.send([Array("from b".utf8)])
        var seen: [[UInt8]: [UInt8]] = [:]
        for _ in 0..<2 {
            let frames = try await nextMessage(router, "a dealer's hello")
            seen[frames[0]] = frames[1]
        }
        #expect(seen == [Array("worker-a".utf8): Array("from a".utf8), Array("worker-b".utf8): Array("from b".utf8)])

        router.send([Array("worker-b".utf8), Array("to b".utf8)])
        router.send([Array("worker-a".utf8), Array("to a".utf8)])
        #expect(try await nextMessage(alice) == [Array("to a".utf8)])
        #expect(try await nextMessage(bob) == [Array("to b".utf8)])
    }
}
