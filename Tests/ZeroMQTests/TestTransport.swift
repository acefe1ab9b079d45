import Foundation
import Testing
import TestKit
import ZeroMQ

/// The transports every socket test runs over.
enum TestTransport: String, CaseIterable, Sendable {
    case inproc
    case tcp

    /// A fresh endpoint to bind: a unique inproc name, or an ephemeral loopback TCP port.
    func bindEndpoint() -> String {
        switch self {
        case .inproc: "inproc://zeromq-tests-\(UUID().uuidString)"
        case .tcp: "tcp://127.0.0.1:*"
        }
    }
}

/// A test waited longer than it should have for a socket event.
struct TestTimeoutError: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// The stream finished while a test still expected events.
struct StreamEndedError: Error, CustomStringConvertible {
    var what: String
    var description: String { "event stream ended while waiting for \(what)" }
}

/// Runs `body`, failing with ``TestTimeoutError`` after `seconds` (generous: these guard against hangs only).
func withTimeout<T: Sendable>(
    _ what: String,
    seconds: Double = 20,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestTimeoutError(what: what)
        }
        return value
    }
}

/// The next event on `socket`, or an error if none arrives in time or the stream ends.
func nextEvent(_ socket: ZMQSocket, _ what: String = "an event") async throws -> ZMQSocketEvent {
    try await withTimeout(what) {
        var iterator = socket.events.makeAsyncIterator()
        guard let event = await iterator.next() else { throw StreamEndedError(what: what) }
        return event
    }
}

/// The frames of the next event on `socket`, which must be a message.
func nextMessage(_ socket: ZMQSocket, _ what: String = "a message") async throws -> [[UInt8]] {
    let event = try await nextEvent(socket, what)
    guard case .message(let frames, _) = event else {
        Issue.record("expected \(what), got \(event)")
        return []
    }
    return frames
}

/// A router bound on `transport` and a dealer connected to it, after one dealer→router message so the
/// router knows the dealer's routing id (returned as `peer`).
struct ConnectedPair: Sendable {
    var router: ZMQSocket
    var dealer: ZMQSocket
    var peer: [UInt8]

    static func make(
        _ loop: ZMQLoop,
        _ transport: TestTransport,
        routerOptions: ZMQSocketOptions = .init(),
        dealerOptions: ZMQSocketOptions = .init()
    ) async throws -> ConnectedPair {
        let router = try await loop.open(.router, options: routerOptions, bind: [transport.bindEndpoint()])
        let dealer = try await loop.open(.dealer, options: dealerOptions, connect: router.endpoints)
        dealer.send([Array("hello".utf8)])
        let hello = try await nextMessage(router, "the dealer's hello")
        #expect(hello.count == 2)
        #expect(hello.last == Array("hello".utf8))
        return ConnectedPair(router: router, dealer: dealer, peer: hello.first ?? [])
    }
}

extension UInt32 {
    /// Four little-endian bytes.
    var bytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }

    /// Reads four little-endian bytes.
    init(bytes: [UInt8]) {
        var value: UInt32 = 0
        for (index, byte) in bytes.prefix(4).enumerated() { value |= UInt32(byte) << (8 * UInt32(index)) }
        self = value
    }
}

/// Binds a ROUTER (receive high-water mark 5) on `endpoint`, retrying a while in case another test
/// took the port between the probe and this bind.
func bindRouterRetrying(_ loop: ZMQLoop, _ endpoint: String) async throws -> ZMQSocket? {
    var bound: ZMQSocket?
    for _ in 0..<100 where bound == nil {
        do {
            bound = try await loop.open(.router, options: .init(receiveHighWaterMark: 5), bind: [endpoint])
        } catch let error as ZMQError where error.code == .addressInUse {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    return bound
}

/// The numbers (a big-endian `UInt32` in the first body frame) of the next `count` messages the
/// router receives, in arrival order.
func receiveNumbers(_ router: ZMQSocket, count: Int, _ what: String) async throws -> [UInt32] {
    try await withTimeout(what) {
        var received: [UInt32] = []
        for await event in router.events {
            guard case .message(let frames, _) = event else { continue }
            received.append(UInt32(bytes: frames[1]))
            if received.count == count { break }
        }
        return received
    }
}

/// A free loopback TCP endpoint below the kernel's ephemeral range (see
/// ``LoopbackPort/unusedBelowEphemeralRange()`` for why below).
func freeTCPEndpoint() throws -> String {
    "tcp://127.0.0.1:\(try LoopbackPort.unusedBelowEphemeralRange())"
}
