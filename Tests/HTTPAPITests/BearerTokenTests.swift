import Coordinator
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TestKit

@testable import HTTPAPI

/// The HTTP API's bearer token: the real server on loopback, token files, the loopback rule, and logs.
struct BearerTokenTests {
    static let secret = "c0nduit-test-token-6f1d2a9b4e7c"

    /// A scratch directory removed at the end of a test.
    final class Scratch {
        let path: String
        init() {
            path = NSTemporaryDirectory() + "http-api-tests-" + UUID().uuidString
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Writes `text` into `name` with `mode`; returns the path.
        func write(_ name: String, _ text: String, mode: mode_t) throws -> String {
            let file = path + "/" + name
            try text.write(toFile: file, atomically: false, encoding: .utf8)
            #expect(chmod(file, mode) == 0)
            return file
        }
    }

    /// Every line logged, with its metadata, at any level.
    final class LogSink: Sendable {
        let lines = Mutex<[String]>([])
        var text: String { lines.withLock { $0.joined(separator: "\n") } }

        func logger() -> Logger {
            var logger = Logger(label: "http-api-test") { _ in Handler(sink: self) }
            logger.logLevel = .trace
            return logger
        }

        struct Handler: LogHandler {
            let sink: LogSink
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                let all = metadata.merging(event.metadata ?? [:]) { $1 }
                sink.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
            }
        }
    }

    /// Runs `body` against a real server on 127.0.0.1 (a free port) serving a fresh coordinator.
    func withServer(
        token: BearerToken?, logs: LogSink = LogSink(), _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let scratch = Scratch()
        let service = try CoordinatorService(
            configuration: CoordinatorConfiguration(dataDirectory: scratch.path + "/data"),
            transport: InMemoryNetwork().coordinator)
        let application = try CoordinatorHTTPServer.application(
            service: service, host: "127.0.0.1", port: 0, token: token, logger: logs.logger())
        try await application.test(.live) { client in try await body(client) }
    }

    static func authorization(_ value: String) -> HTTPFields { [.authorization: value] }

    @Test func everyRouteNeedsTheRightToken() async throws {
        let token = try BearerToken(Self.secret)
        let logs = LogSink()
        try await withServer(token: token, logs: logs) { client in
            // No header, another scheme, a wrong token, a prefix of the token, the token and more: 401.
            let refused: [HTTPFields] = [
                [:], Self.authorization("Basic " + Self.secret), Self.authorization("Bearer wrong-token-0123456789"),
                Self.authorization("Bearer " + Self.secret.dropLast()), Self.authorization("Bearer " + Self.secret + "x"),
                Self.authorization("Bearer"), Self.authorization(Self.secret),
            ]
            for headers in refused {
                for (uri, method) in [("/v1/health", HTTPRequest.Method.get), ("/v1/runs", .get), ("/v1/workers", .get),
                                      ("/v1/runs", .post), ("/v1/blobs/missing", .post), ("/no/such/route", .get)] {
                    try await client.execute(uri: uri, method: method, headers: headers) { response in
                        #expect(response.status == .unauthorized, "\(method) \(uri) with \(headers)")
                        #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                        #expect(response.headers[.contentType] == "application/json")
                        let body = try JSONDecoder().decode([String: String].self, from: Data(buffer: response.body))
                        #expect(body["error"]?.contains("bearer token") == true)
                        #expect(!String(buffer: response.body).contains(Self.secret))
                    }
                }
            }
            for value in ["Bearer " + Self.secret, "bearer " + Self.secret, "BEARER  " + Self.secret] {
                try await client.execute(uri: "/v1/health", method: .get, headers: Self.authorization(value)) { response in
                    #expect(response.status == .ok, "\(value)")
                }
            }
            try await client.execute(uri: "/no/such/route", method: .get, headers: Self.authorization("Bearer " + Self.secret)) { response in
                #expect(response.status == .notFound)
            }
        }
        #expect(!logs.text.contains(Self.secret), "the token was logged")
    }

    @Test func loopbackWithoutATokenNeedsNone() async throws {
        try await withServer(token: nil) { client in
            try await client.execute(uri: "/v1/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test(arguments: ["0.0.0.0", "::", "[::]", "192.168.1.20", "10.0.0.1", "example.com", "128.0.0.1", "127.0.0.1.example.com"])
    func nonLoopbackWithoutATokenIsRefused(host: String) throws {
        let error = #expect(throws: HTTPAccessError.self) { try CoordinatorHTTPServer.checkExposure(host: host, token: nil) }
        #expect(error?.code == .tokenRequired)
        #expect(error?.message.contains("--http-token-file") == true)
        try CoordinatorHTTPServer.checkExposure(host: host, token: BearerToken(Self.secret))

        let scratch = Scratch()
        let service = try CoordinatorService(
            configuration: CoordinatorConfiguration(dataDirectory: scratch.path + "/data"),
            transport: InMemoryNetwork().coordinator)
        #expect(throws: HTTPAccessError.self) {
            _ = try CoordinatorHTTPServer.application(service: service, host: host, port: 0, logger: Logger(label: "test"))
        }
    }

    @Test(arguments: ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]"])
    func loopbackHostsNeedNoToken(host: String) throws {
        #expect(CoordinatorHTTPServer.isLoopback(host))
        try CoordinatorHTTPServer.checkExposure(host: host, token: nil)
    }

    @Test func tokenFilesMustBePrivate() throws {
        let scratch = Scratch()
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660, 0o602] {
            let file = try scratch.write("token-\(mode)", Self.secret + "\n", mode: mode)
            let error = #expect(throws: HTTPAccessError.self) { try BearerToken(readingFile: file) }
            #expect(error?.code == .tokenFileMode)
            #expect(error?.message.contains("chmod 600 \(file)") == true)
            #expect(error?.message.contains(Self.secret) == false)
        }
        for mode: mode_t in [0o600, 0o400] {
            let file = try scratch.write("private-\(mode)", Self.secret + "\r\n", mode: mode)
            let token = try BearerToken(readingFile: file)
            #expect(token.matches(Array(Self.secret.utf8)))
            #expect(token.authorizationValue == "Bearer " + Self.secret)
        }
    }

    @Test func unusableTokenFilesAreRefusedWithoutShowingTheirContent() throws {
        let scratch = Scratch()
        let cases: [(String, HTTPAccessError.Code)] = [
            ("k3y", .invalidToken), ("", .invalidToken), ("has a space in the middle of it", .invalidToken),
            ("two\nlines-of-token-text", .invalidToken), (String(repeating: "x", count: 5000), .unreadableTokenFile),
        ]
        for (index, (content, code)) in cases.enumerated() {
            let file = try scratch.write("bad-\(index)", content, mode: 0o600)
            let error = #expect(throws: HTTPAccessError.self) { try BearerToken(readingFile: file) }
            #expect(error?.code == code, "\(content.prefix(20))")
            if !content.isEmpty { #expect(error?.message.contains(content) == false) }
        }
        let missing = #expect(throws: HTTPAccessError.self) { try BearerToken(readingFile: scratch.path + "/missing") }
        #expect(missing?.code == .unreadableTokenFile)
        let directory = #expect(throws: HTTPAccessError.self) { try BearerToken(readingFile: scratch.path) }
        #expect(directory?.code == .unreadableTokenFile)
    }

    @Test func aTokenNeverPrintsItself() throws {
        let token = try BearerToken(Self.secret)
        #expect("\(token)" == "<redacted>")
        #expect(!String(reflecting: token).contains(Self.secret))
        var dumped = ""
        dump(token, to: &dumped)
        #expect(!dumped.contains(Self.secret))
    }

    @Test func comparisonIsExact() throws {
        let token = try BearerToken(Self.secret)
        #expect(token.matches(Array(Self.secret.utf8)))
        #expect(!token.matches([]))
        #expect(!token.matches(Array(Self.secret.utf8) + [0]))
        #expect(!token.matches(Array(Self.secret.utf8).dropLast()))
        var flipped = Array(Self.secret.utf8)
        flipped[flipped.count - 1] ^= 1
        #expect(!token.matches(flipped))
    }
}
