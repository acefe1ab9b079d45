import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TestKit

@testable import HTTPAPI

/// The studio's login cookie, its CSRF token, and the refusal of state changes from other origins:
/// the real server on loopback, real requests.
struct StudioSessionTests {
    static let secret = "c0nduit-studio-token-5e2b7a1c9d"

    func withServer(token: BearerToken?, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "studio-session-tests-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try CoordinatorService(
            configuration: CoordinatorConfiguration(dataDirectory: directory + "/data"), transport: InMemoryNetwork().coordinator)
        let application = try CoordinatorHTTPServer.application(
            service: service, host: "127.0.0.1", port: 0, token: token, logger: Logger(label: "studio-session-test"))
        try await application.test(.live) { client in try await body(client) }
    }

    static func cookie(_ token: String, csrf: String? = nil) -> HTTPFields {
        var fields: HTTPFields = [.cookie: "other=1; conduit_token=\(token)"]
        if let csrf { fields[StudioSession.csrfHeader] = csrf }
        return fields
    }

    @Test func theCookieAuthenticatesAndStateChangesNeedTheCSRFToken() async throws {
        let token = try BearerToken(Self.secret)
        let csrf = StudioSession.csrfToken(for: token)
        try await withServer(token: token) { client in
            try await client.execute(uri: "/v1/runs", method: .get, headers: Self.cookie(Self.secret)) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v1/runs", method: .get, headers: Self.cookie("wrong-token-0123456789")) { response in
                #expect(response.status == .unauthorized)
            }
            // A page without a valid cookie is sent to the login page; the login page itself is open.
            try await client.execute(uri: "/ui", method: .get, headers: Self.cookie("wrong-token-0123456789")) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/ui/login")
            }
            try await client.execute(uri: "/ui/login", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("name=\"token\""))
            }
            try await client.execute(uri: "/ui", method: .get, headers: Self.cookie(Self.secret)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("/ui/app.js"))
            }
            // State changes: the cookie alone is refused; the CSRF token lets the request reach its route.
            for headers in [Self.cookie(Self.secret), Self.cookie(Self.secret, csrf: String(repeating: "0", count: 64)),
                            Self.cookie(Self.secret, csrf: "")] {
                try await client.execute(uri: "/v1/runs/run-x/cancel", method: .post, headers: headers) { response in
                    #expect(response.status == .forbidden, "\(headers)")
                    #expect(String(buffer: response.body).contains("X-Conduit-CSRF"))
                }
            }
            try await client.execute(uri: "/v1/runs/run-x/cancel", method: .post, headers: Self.cookie(Self.secret, csrf: csrf)) { response in
                #expect(response.status == .notFound)
            }
            // The bearer header needs no CSRF token (the CLI).
            try await client.execute(uri: "/v1/runs/run-x/cancel", method: .post, headers: [.authorization: "Bearer " + Self.secret]) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func theLoginPageSetsAnHttpOnlyStrictCookieOnlyForTheRightToken() async throws {
        let token = try BearerToken(Self.secret)
        try await withServer(token: token) { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            try await client.execute(uri: "/ui/login", method: .post, headers: form, body: ByteBuffer(string: "token=wrong-token-0123456789")) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[values: .setCookie].isEmpty)
                #expect(String(buffer: response.body).contains("login-error"))
                #expect(!String(buffer: response.body).contains(Self.secret))
            }
            try await client.execute(uri: "/ui/login", method: .post, headers: form, body: ByteBuffer(string: "token=" + Self.secret)) { response in
                #expect(response.status == .seeOther)
                let cookies = response.headers[values: .setCookie]
                let tokenCookie = try #require(cookies.first { $0.hasPrefix("conduit_token=") })
                #expect(tokenCookie.contains("HttpOnly") && tokenCookie.contains("SameSite=Strict"), "\(tokenCookie)")
                let csrfCookie = try #require(cookies.first { $0.hasPrefix("conduit_csrf=") })
                #expect(csrfCookie.contains("SameSite=Strict") && csrfCookie.contains(StudioSession.csrfToken(for: token)))
            }
        }
    }

    @Test func anotherOriginCannotChangeStateEvenWithoutAToken() async throws {
        try await withServer(token: nil) { client in
            for origin in ["http://evil.example", "http://127.0.0.1:1", "null"] {
                try await client.execute(uri: "/v1/runs/run-x/cancel", method: .post, headers: [.origin: origin]) { response in
                    #expect(response.status == .forbidden, "\(origin)")
                }
            }
            // No Origin (the CLI) reaches the route; so does a read from another origin (the browser keeps its answer).
            try await client.execute(uri: "/v1/runs/run-x/cancel", method: .post) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/runs", method: .get, headers: [.origin: "http://evil.example"]) { response in
                #expect(response.status == .ok)
            }
            // Without a token the studio needs no login.
            try await client.execute(uri: "/ui/login", method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/ui")
            }
            try await client.execute(uri: "/ui/app.js", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("function route"))
            }
        }
    }
}
