import Artifacts
import Foundation
import HTTPTypes
import Hummingbird

/// How a browser holds the coordinator's token for the studio: a cookie set by the login page, and a
/// CSRF token that every state-changing request authenticated by that cookie must repeat in a header.
///
/// The CSRF token is derived from the bearer token (a SHA-256 of it under a fixed label), so it survives
/// a coordinator restart, reveals nothing about the token, and cannot be known to another site: a page
/// elsewhere can make the browser send the cookie, never the header.
public enum StudioSession {
    /// The cookie holding the token (HttpOnly: scripts cannot read it).
    public static let tokenCookie = "conduit_token"
    /// The cookie holding the CSRF token (readable by the studio's script, which copies it to the header).
    public static let csrfCookie = "conduit_csrf"
    /// The header a state-changing request authenticated by the cookie must carry.
    public static let csrfHeader = HTTPField.Name("X-Conduit-CSRF")!
    /// The login page.
    public static let loginPath = "/ui/login"

    /// The CSRF token that goes with `token`.
    public static func csrfToken(for token: BearerToken) -> String {
        SHA256Hasher.digest(of: Array("conduit studio csrf\u{0}".utf8) + token.bytes).hex
    }

    /// The value of the cookie named `name` in the request's `Cookie` headers, percent-decoded.
    public static func cookie(_ name: String, in headers: HTTPFields) -> String? {
        for field in headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                return value.removingPercentEncoding ?? value
            }
        }
        return nil
    }

    /// Whether the method changes state (anything but GET, HEAD and OPTIONS).
    public static func changesState(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head && method != .options
    }

    /// Whether a request comes from a page of another origin: its `Origin` header (which browsers send
    /// with every cross-origin POST) names another host and port than its `Host` header. Clients that are
    /// not browsers send no `Origin`.
    public static func isCrossOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return false }
        guard origin != "null", let url = URL(string: origin), let host = url.host else { return true }
        let port = url.port.map { ":\($0)" } ?? ""
        let authority = request.head.authority ?? ""
        return (host + port).lowercased() != authority.lowercased()
            && ("[" + host + "]" + port).lowercased() != authority.lowercased()
    }

    /// The `Set-Cookie` values a successful login sends.
    static func loginCookies(token: BearerToken) -> [String] {
        let value = String(decoding: token.bytes, as: UTF8.self)
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return [
            "\(tokenCookie)=\(value); Path=/; HttpOnly; SameSite=Strict",
            "\(csrfCookie)=\(csrfToken(for: token)); Path=/; SameSite=Strict",
        ]
    }
}
