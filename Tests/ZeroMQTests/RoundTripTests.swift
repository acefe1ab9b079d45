import Testing
import ZeroMQ

@Suite("Router/dealer round trips", .timeLimit(.minutes(2)))
struct RoundTripTests {
    @Test("a message goes dealer → router → dealer", arguments: TestTransport.allCases)
    func roundTrip(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport)
        pair.router.send([pair.peer, Array("reply".utf8)])
        let reply = try await nextMessage(pair.dealer, "the router's reply")
        #expect(reply == [Array("reply".utf8)])
    }

    @Test("binding tcp://127.0.0.1:* reports the real port")
    func ephemeralPort() async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let router = try await loop.open(.router, bind: ["tcp://127.0.0.1:*"])
        let endpoint = try #require(router.endpoints.first)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        #expect(port > 0 && port < 65536)
    }

    @Test("many messages arrive in order both ways", arguments: TestTransport.allCases)
    func manyInOrder(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport)
        let count: UInt32 = 5_000
        for index in 0..<count { pair.dealer.send([index.bytes]) }
        for index in 0..<count { pair.router.send([pair.peer, index.bytes]) }
        let (up, down) = try await withTimeout("5,000 messages each way") {
            var up: [UInt32] = []
            for await event in pair.router.events {
                guard case .message(let frames, _) = event else { continue }
                up.append(UInt32(bytes: frames[1]))
                if up.count == Int(count) { break }
            }
            var down: [UInt32] = []
            for await event in pair.dealer.events {
                guard case .message(let frames, _) = event else { continue }
                down.append(UInt32(bytes: frames[0]))
                if down.count == Int(count) { break }
            }
            return (up, down)
        }
        #expect(up == Array(0..<count))
        #expect(down == Array(0..<count))
    }

    @Test("multipart messages keep every frame, empty and large ones included", arguments: TestTransport.allCases)
    func multipart(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport)
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let frames: [[UInt8]] = [[], [7], large, Array("tail".utf8), []]
        pair.dealer.send(frames)
        let received = try await nextMessage(pair.router, "the multipart message")
        #expect(received == [pair.peer] + frames)
        pair.router.send([pair.peer] + frames)
        #expect(try await nextMessage(pair.dealer, "the multipart reply") == frames)
    }

    @Test("a 64 MiB transfer in 1 MiB chunks arrives intact", arguments: TestTransport.allCases)
    func largeTransfer(_ transport: TestTransport) async throws {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        let pair = try await ConnectedPair.make(loop, transport)
        let chunks = 64
        for index in 0..<chunks {
            pair.dealer.send([UInt32(index).bytes, [UInt8](repeating: UInt8(index), count: 1 << 20)])
        }
        let received = try await withTimeout("64 chunks") {
            var seen = 0
            for await event in pair.router.events {
                guard case .message(let frames, _) = event, frames.count == 3 else { continue }
                let index = Int(UInt32(bytes: frames[1]))
                let chunk = frames[2]
                let byte = UInt8(index)
                guard index == seen, chunk.count == 1 << 20, chunk[0] == byte, chunk[chunk.count / 2] == byte,
                    chunk[chunk.count - 1] == byte
                else {
                    return -1
                }
                seen += 1
                if seen == chunks { break }
            }
            return seen
        }
        #expect(received == chunks)
    }
}
