import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Protocol

/// Lets a request through only when it carries the configured token: as `Authorization: Bearer TOKEN`
/// (the CLI and scripts), or in the studio's cookie set by its login page (browsers).
///
/// A request authenticated by the cookie that changes state (POST, PUT, DELETE…) must also carry the
/// CSRF token in `X-Conduit-CSRF` (see ``StudioSession``); without it the answer is `403`. A browser asking
/// for a studio page (`/ui…`) without a valid cookie is sent to the login page; anything else without a
/// valid token gets `401` with a JSON body `{"error": "..."}` and `WWW-Authenticate: Bearer`.
///
/// The comparison takes the same time wherever the tokens differ. The header's and cookie's values are
/// never logged or echoed: the error names only what the client should send.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The token requests must present.
    let token: BearerToken

    /// A middleware requiring `token`.
    public init(token: BearerToken) {
        self.token = token
    }

    /// Checks the header or the cookie, then calls `next`; answers 401, 403 or a redirect to the login
    /// page itself when the token is missing or wrong.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        if path == StudioSession.loginPath || path == "/ui/login.css" { return try await next(request, context) }
        let isPage = path == "/ui" || path.hasPrefix("/ui/")
        guard let value = request.headers[.authorization] else {
            if let cookie = StudioSession.cookie(StudioSession.tokenCookie, in: request.headers), token.matches(Array(cookie.utf8)) {
                if StudioSession.changesState(request.method) {
                    let csrf = StudioSession.csrfToken(for: token)
                    guard let presented = request.headers[StudioSession.csrfHeader], presented == csrf else {
                        return Self.error(.forbidden, "this request changes state and was authenticated by the studio's cookie, "
                            + "so it needs the header X-Conduit-CSRF (the studio's pages send it); reload the page")
                    }
                }
                return try await next(request, context)
            }
            if isPage && !StudioSession.changesState(request.method) {
                return Response(status: .seeOther, headers: [.location: StudioSession.loginPath])
            }
            return Self.unauthorized("this coordinator requires a bearer token; send Authorization: Bearer TOKEN "
                + "(conduit clients: --token-file FILE or CONDUIT_TOKEN_FILE; browsers: log in at /ui/login)")
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
        var response = error(.unauthorized, message)
        response.headers[.wwwAuthenticate] = "Bearer realm=\"conduit\""
        return response
    }

    /// An answer of `status` with a JSON error body.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? JSONEncoder().encode(APIError(error: message))) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Runs the router behind the token check when there is one, so that the check sees every request,
/// including those for paths no route matches (a router's own middleware only wraps its routes).
///
/// With or without a token, a state-changing request sent by a page of another origin (its `Origin`
/// header names another host than `Host`) is refused with `403`: a web page the user visits cannot make
/// the browser cancel runs on a coordinator listening on loopback.
struct GuardedResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context: RequestContext {
    typealias Context = Inner.Context
    let inner: Inner
    let middleware: BearerTokenMiddleware<Context>?

    @Sendable func respond(to request: Request, context: Context) async throws -> Response {
        if StudioSession.changesState(request.method) && StudioSession.isCrossOrigin(request) {
            return BearerTokenMiddleware<Context>.error(
                .forbidden, "a page of another origin may not change this coordinator's state; use the studio at /ui or the CLI")
        }
        guard let middleware else { return try await inner.respond(to: request, context: context) }
        return try await middleware.handle(request, context: context) { request, context in
            try await inner.respond(to: request, context: context)
        }
    }
}
