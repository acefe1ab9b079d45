import Testing
import ZeroMQ

@Suite("Frame and message caps", .timeLimit(.minutes(2)))
struct SizeCapTests {
    static let strict = ZMQSocketOptions(maxMessageBytes: 4096, maxFrameBytes: 1024, maxFrames: 4)

    @Test("an oversized frame is dropped whole and the socket keeps working", arguments: TestTransport.allCases)
    func oversizedFrame(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport, routerOptions: Self.strict)
        pair.dealer.send([[1, 2, 3], [UInt8](repeating: 9, count: 2048)])
        let event = try await nextEvent(pair.router, "the drop")
        guard case .dropped(let reason) = event else {
            Issue.record("expected .dropped, got \(event)")
            return
        }
        #expect(reason.contains("maxFrameBytes"))
        pair.dealer.send([Array("fine".utf8)])
        #expect(try await nextMessage(pair.router) == [pair.peer, Array("fine".utf8)])
    }

    @Test("a message with too many frames is dropped and the socket keeps working", arguments: TestTransport.allCases)
    func tooManyFrames(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport, routerOptions: Self.strict)
        // Four frames plus the router's routing-id frame makes five, over maxFrames 4.
        pair.dealer.send([[1], [2], [3], [4]])
        let event = try await nextEvent(pair.router, "the drop")
        guard case .dropped(let reason) = event else {
            Issue.record("expected .dropped, got \(event)")
            return
        }
        #expect(reason.contains("maxFrames"))
        pair.dealer.send([[1], [2], [3]])
        #expect(try await nextMessage(pair.router) == [pair.peer, [1], [2], [3]])
    }

    @Test("a message over maxMessageBytes is dropped", arguments: TestTransport.allCases)
    func oversizedMessage(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let options = ZMQSocketOptions(maxMessageBytes: 2048, maxFrameBytes: 1024, maxFrames: 4)
        let pair = try await ConnectedPair.make(loop, transport, routerOptions: options)
        let frame = [UInt8](repeating: 5, count: 1000)
        pair.dealer.send([frame, frame, frame])  // every frame and the count are fine; 3000 bytes is not
        let event = try await nextEvent(pair.router, "the drop")
        guard case .dropped(let reason) = event else {
            Issue.record("expected .dropped, got \(event)")
            return
        }
        #expect(reason.contains("maxMessageBytes"))
        pair.dealer.send([frame])
        #expect(try await nextMessage(pair.router) == [pair.peer, frame])
    }

    @Test("outgoing messages over the sender's caps or with no frames fail without being sent")
    func outgoingCaps() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, .inproc, dealerOptions: Self.strict)
        pair.dealer.send([[UInt8](repeating: 1, count: 2000)])
        pair.dealer.send([])
        var codes: [ZMQError.Code] = []
        for _ in 0..<2 {
            let event = try await nextEvent(pair.dealer, "a send failure")
            guard case .sendFailed(_, let error) = event else {
                Issue.record("expected .sendFailed, got \(event)")
                return
            }
            codes.append(error.code)
        }
        #expect(codes == [.messageTooLarge, .invalidArgument])
        pair.dealer.send([Array("ok".utf8)])
        #expect(try await nextMessage(pair.router) == [pair.peer, Array("ok".utf8)])
    }

    @Test("invalid options are refused at open", arguments: [
        ZMQSocketOptions(identity: [0, 1]),
        ZMQSocketOptions(identity: []),
        ZMQSocketOptions(maxFrames: 0),
        ZMQSocketOptions(maxFrameBytes: -1),
    ])
    func invalidOptions(_ options: ZMQSocketOptions) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        await #expect(throws: ZMQError.self) {
            _ = try await loop.open(.dealer, options: options, connect: ["inproc://nowhere"])
        }
        do {
            _ = try await loop.open(.dealer, options: options)
            Issue.record("invalid options were accepted")
        } catch let error as ZMQError {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test("a bad endpoint fails the open with a ZMQError")
    func badEndpoint() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        do {
            _ = try await loop.open(.router, bind: ["bogus://here"])
            Issue.record("open should have thrown")
        } catch let error as ZMQError {
            #expect(error.code == .protocolNotSupported)
            #expect(error.message.contains("bogus://here"))
        }
        // The loop is unaffected.
        let pair = try await ConnectedPair.make(loop, .inproc)
        #expect(!pair.peer.isEmpty)
    }
}
