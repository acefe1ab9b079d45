import Testing
@testable import ZeroMQ

/// The send queue's two lanes: control messages never wait behind queued bulk messages.
@Suite struct OutgoingQueueTests {
    func message(_ tag: UInt8) -> [[UInt8]] { [[tag], [tag, tag]] }

    /// Pops every message, returning their tags in send order.
    func drain(_ queue: inout OutgoingQueue) -> [UInt8] {
        var tags: [UInt8] = []
        while let head = queue.first {
            tags.append(head[0][0])
            queue.removeFirst()
        }
        return tags
    }

    @Test func controlGoesBeforeQueuedBulkAndEachLaneKeepsItsOrder() {
        var queue = OutgoingQueue()
        for tag in UInt8(1)...5 { queue.append(message(tag), lane: .bulk) }
        queue.append(message(100), lane: .control)
        queue.append(message(6), lane: .bulk)
        queue.append(message(101), lane: .control)
        #expect(queue.count == 8)
        #expect(queue.headLane == .control)
        #expect(drain(&queue) == [100, 101, 1, 2, 3, 4, 5, 6])
        #expect(queue.isEmpty && queue.headLane == nil)
    }

    @Test func aBulkMessageHandedOverInPartStaysTheHeadUntilItIsSentWhole() {
        var queue = OutgoingQueue()
        queue.append(message(1), lane: .bulk)
        queue.append(message(2), lane: .bulk)
        // libzmq took the first frame of bulk message 1, then said EAGAIN.
        queue.nextFrame = 1
        queue.append(message(100), lane: .control)
        #expect(queue.first?[0] == [1], "the rest of a multipart message must follow its first frame")
        #expect(queue.headLane == .bulk)
        queue.removeFirst()
        #expect(queue.nextFrame == 0)
        #expect(drain(&queue) == [100, 2])
    }

    @Test func aBlockedHeadNotYetStartedLetsControlOvertake() {
        var queue = OutgoingQueue()
        queue.append(message(1), lane: .bulk)
        queue.nextFrame = 0  // EAGAIN on the first frame: nothing handed over
        queue.append(message(100), lane: .control)
        #expect(drain(&queue) == [100, 1])
    }

    @Test func manyMessagesCompactAndKeepOrder() {
        var queue = OutgoingQueue()
        var popped: [UInt32] = []
        for index in UInt32(0)..<3000 {
            queue.append([index.bytes], lane: index % 3 == 0 ? .control : .bulk)
            if index % 2 == 1 {
                popped.append(UInt32(bytes: queue.first![0]))
                queue.removeFirst()
            }
        }
        while let head = queue.first {
            popped.append(UInt32(bytes: head[0]))
            queue.removeFirst()
        }
        #expect(popped.count == 3000 && Set(popped).count == 3000)
        let control = popped.filter { $0 % 3 == 0 }, bulk = popped.filter { $0 % 3 != 0 }
        #expect(control == control.sorted() && bulk == bulk.sorted(), "each lane keeps its order")
        queue.append(message(7), lane: .control)
        queue.removeAll()
        #expect(queue.isEmpty && queue.nextFrame == 0)
    }
}

@Suite("Send lanes over a socket", .timeLimit(.minutes(1)))
struct SendLaneTests {
    @Test("a control message queued behind bulk messages the peer has not taken arrives first")
    func controlOvertakesQueuedBulk() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let endpoint = try freeTCPEndpoint()

        // Nobody listens yet: libzmq takes `hwm` messages, the loop holds the rest in its queue.
        let hwm: Int32 = 5
        let dealer = try await loop.open(.dealer, options: ZMQSocketOptions(sendHighWaterMark: hwm, reconnectIntervalMilliseconds: 10), connect: [endpoint])
        let bulkCount: UInt32 = 200
        for index in 0..<bulkCount { dealer.send([index.bytes, [UInt8](repeating: 7, count: 4096)], lane: .bulk) }
        try await Task.sleep(for: .milliseconds(100))
        dealer.send([UInt32.max.bytes], lane: .control)
        let router = try #require(try await bindRouterRetrying(loop, endpoint))
        let received = try await receiveNumbers(router, count: Int(bulkCount) + 1, "the queued messages")
        let position = try #require(received.firstIndex(of: UInt32.max))
        // Only what libzmq already held (its high-water mark, per pipe) can go before it.
        #expect(position <= Int(hwm) * 2, "the control message came at \(position)")
        #expect(received.filter { $0 != UInt32.max } == Array(0..<bulkCount), "bulk messages keep their order")
    }
}
