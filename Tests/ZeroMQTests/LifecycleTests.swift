import Testing
import ZeroMQ

@Suite("Loop and socket lifecycle", .timeLimit(.minutes(2)))
struct LifecycleTests {
    @Test("shutdown is idempotent, ends every event stream and refuses later opens")
    func shutdownIdempotent() async throws {
        let loop = try ZMQLoop()
        let pair = try await ConnectedPair.make(loop, .tcp)
        loop.shutdown()
        loop.shutdown()
        let leftovers = try await withTimeout("the streams to end") {
            var count = 0
            for await _ in pair.router.events { count += 1 }
            for await _ in pair.dealer.events { count += 1 }
            return count
        }
        #expect(leftovers == 0)
        pair.dealer.send([[1]])  // ignored, no crash
        pair.router.close()
        do {
            _ = try await loop.open(.dealer)
            Issue.record("open after shutdown should throw")
        } catch let error as ZMQError {
            #expect(error.code == .terminated)
        }
    }

    @Test("concurrent shutdowns all return")
    func concurrentShutdown() async throws {
        let loop = try ZMQLoop()
        _ = try await ConnectedPair.make(loop, .inproc)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { loop.shutdown() } }
        }
        loop.shutdown()
    }

    @Test("closing a socket ends its stream and leaves the rest of the loop working")
    func closeSocket() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let first = try await ConnectedPair.make(loop, .inproc)
        first.dealer.close()
        first.dealer.close()
        let ended = try await withTimeout("the closed socket's stream to end") {
            for await _ in first.dealer.events {}
            return true
        }
        #expect(ended)
        let second = try await ConnectedPair.make(loop, .tcp)
        second.router.send([second.peer, [42]])
        #expect(try await nextMessage(second.dealer) == [[42]])
    }

    @Test("a loop dropped without shutdown cleans up")
    func dropWithoutShutdown() async throws {
        for _ in 0..<20 {
            let loop = try ZMQLoop()
            _ = try await ConnectedPair.make(loop, .tcp)
        }
    }
}
