import Foundation
import Glibc

/// A plain TCP connection to the server under test from a chosen loopback source address (any address in
/// 127.0.0.0/8 works on Linux), for attacks no HTTP client would make: connecting and sending nothing, or
/// half a request head. Every call blocks, so tests make them through ``onThread(_:)``.
public final class RawConnection: Sendable {
    /// The socket.
    public let descriptor: Int32

    /// Opens `count` connections from `source` to 127.0.0.1:`port`, on a thread of their own.
    public static func open(_ count: Int, from source: String, port: Int) async throws -> [RawConnection] {
        try await onThread { try (0..<count).map { _ in try RawConnection(port: port, from: source) } }
    }

    /// Connects from `source` (port chosen by the kernel) to 127.0.0.1:`port`.
    public init(port: Int, from source: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawConnectionError("socket: \(String(cString: strerror(errno)))") }
        var local = Self.address(source, port: 0)
        var remote = Self.address("127.0.0.1", port: port)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw RawConnectionError("bind \(source): \(message)")
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw RawConnectionError("connect from \(source) to port \(port): \(message)")
        }
    }

    deinit { Glibc.close(descriptor) }

    static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    /// Sends `text` (all of it, or throws).
    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw RawConnectionError("send: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    /// Whether the server has closed the connection, without waiting: data waiting to be read is drained.
    public func isClosedNow() -> Bool { Self.drain(descriptor) }

    /// Reads until the bytes received contain `needle`, the connection closes, or `timeout` passes; returns
    /// what was received.
    public func receive(until needle: String, timeout: Duration) -> String {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        while !String(decoding: received, as: UTF8.self).contains(needle) {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { break }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// True when the peer closed (end of stream or an error); false while it is open. Reads and discards
    /// whatever data is waiting.
    static func drain(_ descriptor: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { continue }
            if count == 0 { return true }
            return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
        }
    }

    /// Waits, with `poll`, until at least `target` of `connections` are closed by the server or `timeout`
    /// passes; returns how many are closed then.
    public static func waitUntilClosed(_ connections: [RawConnection], atLeast target: Int, timeout: Duration) -> Int {
        let deadline = ContinuousClock.now + timeout
        var closed = Set<Int32>()
        while true {
            let open = connections.map(\.descriptor).filter { !closed.contains($0) }
            for descriptor in open where drain(descriptor) { closed.insert(descriptor) }
            let left = ContinuousClock.now.duration(to: deadline)
            if closed.count >= target || left <= .zero { return closed.count }
            var entries = connections.map(\.descriptor).filter { !closed.contains($0) }
                .map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let milliseconds = Int32(min(1000, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1))
            _ = poll(&entries, nfds_t(entries.count), milliseconds)
        }
    }
}

/// A raw connection failed.
public struct RawConnectionError: Error, CustomStringConvertible {
    /// What failed.
    public var description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Runs blocking `body` on a thread of its own, so that socket calls never hold a thread of the cooperative
/// pool (which the server under test needs).
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
