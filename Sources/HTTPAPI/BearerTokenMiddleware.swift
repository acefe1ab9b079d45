import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Protocol

/// Lets a request through only when it carries `Authorization: Bearer TOKEN` with the configured token;
/// anything else gets `401` with a JSON body `{"error": "..."}` and `WWW-Authenticate: Bearer`.
///
/// The comparison takes the same time wherever the tokens differ. The header's value is never logged or
/// echoed: the error names only what the client should send.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The token requests must present.
    let token: BearerToken

    /// A middleware requiring `token`.
    public init(token: BearerToken) {
        self.token = token
    }

    /// Checks the header, then calls `next`; answers 401 itself when the token is missing or wrong.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let value = request.headers[.authorization] else {
            return Self.unauthorized("this coordinator requires a bearer token; send Authorization: Bearer TOKEN "
                + "(conduit clients: --token-file FILE or CONDUIT_TOKEN_FILE)")
        }
        guard let presented = Self.bearerCredential(value), token.matches(presented) else {
            return Self.unauthorized("the bearer token is wrong; use the token in the coordinator's --http-token-file")
        }
        return try await next(request, context)
    }

    /// The credential of `Bearer CREDENTIAL` (the scheme in any case), or nil for another scheme.
    static func bearerCredential(_ value: String) -> ArraySlice<UInt8>? {
        let bytes = Array(value.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
              zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        var start = scheme.count
        while start < bytes.count && bytes[start] == UInt8(ascii: " ") { start += 1 }
        return bytes[start...]
    }

    /// A 401 answer with a JSON error body.
    static func unauthorized(_ message: String) -> Response {
        let body = (try? JSONEncoder().encode(APIError(error: message))) ?? Data()
        return Response(
            status: .unauthorized,
            headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer realm=\"conduit\""],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

/// Runs the router behind the token check when there is one, so that the check sees every request,
/// including those for paths no route matches (a router's own middleware only wraps its routes).
struct GuardedResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context: RequestContext {
    typealias Context = Inner.Context
    let inner: Inner
    let middleware: BearerTokenMiddleware<Context>?

    @Sendable func respond(to request: Request, context: Context) async throws -> Response {
        guard let middleware else { return try await inner.respond(to: request, context: context) }
        return try await middleware.handle(request, context: context) { request, context in
            try await inner.respond(to: request, context: context)
        }
    }
}
