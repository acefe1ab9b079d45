import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TestKit

@testable import HTTPAPI

/// A flood of connections that never send a request cannot starve the HTTP API: real sockets on loopback,
/// from several source addresses (any address in 127.0.0.0/8), against the real server.
@Suite(.timeLimit(.minutes(2)))
struct ConnectionFloodTests {
    typealias LogSink = BearerTokenTests.LogSink

    /// Runs `body` against a real server on 127.0.0.1 (a free port) with `settings`; hands it the port.
    func withServer(
        settings: HTTPServerSettings, logs: LogSink, _ body: @escaping @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        let scratch = BearerTokenTests.Scratch()
        let service = try CoordinatorService(
            configuration: CoordinatorConfiguration(dataDirectory: scratch.path + "/data"),
            transport: InMemoryNetwork().coordinator)
        let application = try CoordinatorHTTPServer.application(
            service: service, host: "127.0.0.1", port: 0, settings: settings, logger: logs.logger())
        try await application.test(.live) { client in
            try await body(client, try #require(client.port))
        }
    }

    @Test func connectionsBeyondTheLimitsAreClosedAtOnceAndHealthStillAnswers() async throws {
        let settings = try HTTPServerSettings(
            requestHeadTimeout: .seconds(120), idleTimeout: .seconds(120), maximumConnections: 100, maximumConnectionsPerAddress: 16)
        let logs = LogSink()
        try await withServer(settings: settings, logs: logs) { client, port in
            // One address opens 200 connections and sends nothing: all but 16 are closed at once.
            let flood = try await RawConnection.open(200, from: "127.0.0.2", port: port)
            let refused = try await onThread { RawConnection.waitUntilClosed(flood, atLeast: 184, timeout: .seconds(30)) }
            #expect(refused == 184)
            let kept = try await onThread { flood.filter { !$0.isClosedNow() }.count }
            #expect(kept == 16, "the 16 admitted connections stay open until their timeout")

            // Another client is still served.
            try await client.execute(uri: "/v1/health", method: .get) { response in
                #expect(response.status == .ok)
            }
            let perAddress = logs.lines.withLock { $0.filter { $0.contains("refused") } }
            #expect(perAddress.count == 1, "one line for the whole flood, not one per connection: \(perAddress)")
            #expect(perAddress.first?.contains("127.0.0.2") == true, "\(perAddress)")
            #expect(perAddress.first?.contains("--http-max-connections-per-address 16") == true, "\(perAddress)")

            // Seven more addresses, 16 each (112): the total limit (100) refuses what does not fit.
            var opened: [RawConnection] = []
            for address in 3...9 { opened += try await RawConnection.open(16, from: "127.0.0.\(address)", port: port) }
            let others = opened
            let overTotal = try await onThread { RawConnection.waitUntilClosed(others, atLeast: 28, timeout: .seconds(30)) }
            // 16 from 127.0.0.2 and the health check's kept-alive connection, if still open, hold slots.
            #expect((28...29).contains(overTotal), "\(overTotal) refused")
            let total = logs.lines.withLock { $0.filter { $0.contains("--http-max-connections 100") } }
            #expect(total.count == 1, "\(total)")
            _ = (flood, others)
        }
    }

    @Test func connectionsThatSendNoRequestOrStayIdleAreClosedAfterTheTimeouts() async throws {
        // Short, but not so short that a loaded machine (parallel suites on two cores) cannot read a
        // request head sent at once before its timer fires.
        let settings = try HTTPServerSettings(requestHeadTimeout: .seconds(4), idleTimeout: .seconds(5))
        let logs = LogSink()
        try await withServer(settings: settings, logs: logs) { _, port in
            let silent = try await RawConnection.open(20, from: "127.0.0.2", port: port)
            let halfHead = try await RawConnection.open(5, from: "127.0.0.3", port: port)
            for connection in halfHead { try connection.send("GET /v1/health HTTP/1.1\r\nHost: conduit\r\n") }
            let keptAlive = try await RawConnection.open(1, from: "127.0.0.4", port: port)[0]
            try keptAlive.send("GET /v1/health HTTP/1.1\r\nHost: conduit\r\n\r\n")
            let answer = try await onThread { keptAlive.receive(until: "\"status\"", timeout: .seconds(20)) }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")

            // After a first request, a second head sent a byte at a time must still arrive within the
            // idle timeout: trickling does not keep the connection.
            let trickling = try await RawConnection.open(1, from: "127.0.0.5", port: port)[0]
            try trickling.send("GET /v1/health HTTP/1.1\r\nHost: conduit\r\n\r\n")
            let first = try await onThread { trickling.receive(until: "\"status\"", timeout: .seconds(20)) }
            #expect(first.hasPrefix("HTTP/1.1 200"), "\(first)")
            let trickled = ContinuousClock.now
            var bytes = Array("GET /v1/health HTTP/1.1\r\nHost: conduit\r\nX-Slow: ".utf8)
            while !trickling.isClosedNow(), trickled.duration(to: .now) < .seconds(25) {
                if bytes.isEmpty { bytes = Array("x".utf8) }
                try? trickling.send(String(decoding: [bytes.removeFirst()], as: UTF8.self))
                try await Task.sleep(for: .milliseconds(200))  // the attacker's pace, not a wait for the server
            }
            #expect(trickling.isClosedNow(), "a head trickled after a first request kept the connection for 25 s")
            #expect(trickled.duration(to: .now) < .seconds(12), "closed after \(trickled.duration(to: .now))")

            let everything = silent + halfHead + [keptAlive]
            let started = ContinuousClock.now
            let closed = try await onThread { RawConnection.waitUntilClosed(everything, atLeast: everything.count, timeout: .seconds(30)) }
            #expect(closed == everything.count, "\(everything.count - closed) connections still open after 30 s")
            #expect(started.duration(to: .now) < .seconds(30))
            #expect(!logs.text.contains("refused"), "nothing here exceeded a limit")
        }
    }
}
