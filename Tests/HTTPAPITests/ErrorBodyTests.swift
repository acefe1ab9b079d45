import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TestKit

@testable import HTTPAPI

/// Every error answer carries `{"error": "..."}` as docs/protocol.md says, and bad query values get a 400
/// naming what was expected.
struct ErrorBodyTests {
    /// The `error` string of an error body, or nil when the body has any other shape.
    static func errorMessage(_ buffer: ByteBuffer) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any],
              object.count == 1 else { return nil }
        return object["error"] as? String
    }

    func withServer(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let scratch = BearerTokenTests.Scratch()
        let service = try CoordinatorService(
            configuration: CoordinatorConfiguration(dataDirectory: scratch.path + "/data"),
            transport: InMemoryNetwork().coordinator)
        let application = try CoordinatorHTTPServer.application(
            service: service, host: "127.0.0.1", port: 0, logger: Logger(label: "error-body-test"))
        try await application.test(.live) { client in try await body(client) }
    }

    @Test func everyErrorHasTheDocumentedShape() async throws {
        try await withServer { client in
            let cases: [(String, HTTPRequest.Method, String?, HTTPResponse.Status, String)] = [
                ("/no/such/route", .get, nil, .notFound, "no route GET /no/such/route"),
                ("/v1/runs/nope", .get, nil, .notFound, "no run nope"),
                ("/v1/runs/nope/logs", .get, nil, .badRequest, "?step=NAME"),
                ("/v1/runs/nope/explain", .get, nil, .badRequest, "?step=NAME"),
                ("/v1/blobs/not-a-digest", .put, "x", .badRequest, "not a SHA-256 digest"),
                ("/v1/blobs/" + String(repeating: "a", count: 64), .get, nil, .notFound, "no blob"),
                ("/v1/runs", .post, "{not json", .badRequest, "not a valid SubmitRequest"),
                ("/v1/worker-keys", .post, #"{"key": "short", "name": "w"}"#, .badRequest, "Z85"),
            ]
            for (uri, method, body, status, fragment) in cases {
                try await client.execute(uri: uri, method: method, body: body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.status == status, "\(method) \(uri)")
                    #expect(response.headers[.contentType] == "application/json", "\(method) \(uri)")
                    let message = Self.errorMessage(response.body)
                    #expect(message?.contains(fragment) == true, "\(method) \(uri): \(String(buffer: response.body))")
                }
            }
        }
    }

    @Test(arguments: ["99999999999999999999", "9223372036854775807", "1099511627777", "-1", "abc", "", "1e3", " 5"])
    func aLogOffsetOutOfRangeIsABadRequest(offset: String) async throws {
        try await withServer { client in
            let encoded = offset.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? offset
            try await client.execute(uri: "/v1/runs/nope/logs?step=a&offset=\(encoded)", method: .get) { response in
                #expect(response.status == .badRequest, "offset \(offset)")
                let message = Self.errorMessage(response.body)
                #expect(message?.contains("offset must be a whole number of bytes from 0 to 1099511627776") == true, "\(message ?? "")")
            }
            // In range, the offset is checked, and the run looked up.
            try await client.execute(uri: "/v1/runs/nope/logs?step=a&offset=1099511627776", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test(arguments: ["0", "-1", "abc", "", "1000001", "99999999999999999999", "1.5", " 2"])
    func aLogAttemptOutsideOneToAMillionIsABadRequest(attempt: String) async throws {
        try await withServer { client in
            let encoded = attempt.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? attempt
            try await client.execute(uri: "/v1/runs/nope/logs?step=a&attempt=\(encoded)", method: .get) { response in
                #expect(response.status == .badRequest, "attempt \(attempt)")
                let message = Self.errorMessage(response.body)
                #expect(message?.contains("attempt must be a whole number from 1 to 1000000") == true, "\(message ?? "")")
            }
            // In range, the number is accepted, and the run looked up.
            try await client.execute(uri: "/v1/runs/nope/logs?step=a&attempt=1000000", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    /// Errors of any kind a route may throw, through the same middleware the server uses.
    @Test func unexpectedErrorsBecomeA500WithTheShape() async throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "the disk is on fire" } }
        let router = Router()
        router.add(middleware: ErrorBodyMiddleware())
        router.get("/broken") { _, _ -> Response in throw Broken() }
        router.post("/small") { request, _ -> Response in
            var request = request
            _ = try await request.collectBody(upTo: 4)
            return Response(status: .ok)
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/broken", method: .get) { response in
                #expect(response.status == .internalServerError)
                #expect(Self.errorMessage(response.body)?.contains("the disk is on fire") == true)
            }
            try await client.execute(uri: "/small", method: .post, body: ByteBuffer(string: "too large")) { response in
                #expect(response.status == .contentTooLarge)
                #expect(Self.errorMessage(response.body)?.contains("exceeds 4 bytes") == true, "\(String(buffer: response.body))")
            }
        }
    }
}
