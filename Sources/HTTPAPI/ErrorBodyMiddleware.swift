import Foundation
import Hummingbird
import Logging
import NIOCore
import Protocol

/// Gives every error answer the body `docs/protocol.md` documents, `{"error": "..."}`: errors thrown by
/// routes (``HTTPError``s with their status), Hummingbird's own (no route matched, a body over the size
/// limit), and any other error, as `500` with its description (also logged).
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            var response = Self.response(error.status, error.body ?? Self.message(for: error.status, request: request))
            for field in error.headers where response.headers[field.name] == nil { response.headers.append(field) }
            return response
        } catch let error as NIOTooManyBytesError {
            return Self.response(
                .contentTooLarge,
                "the request body exceeds \(error.maxBytes.map { "\($0) bytes" } ?? "the limit") for \(request.method) \(request.uri.path)")
        } catch let error as any HTTPResponseError {
            return Self.response(error.status, Self.message(for: error.status, request: request))
        } catch {
            context.logger.error("HTTP: \(request.method) \(request.uri.path) failed: \(error)")
            return Self.response(.internalServerError, "the coordinator could not answer \(request.method) \(request.uri.path): \(error)")
        }
    }

    /// What to say for a status that came without a message.
    static func message(for status: HTTPResponse.Status, request: Request) -> String {
        switch status {
        case .notFound: "no route \(request.method) \(request.uri.path); see docs/protocol.md for the routes"
        default: "\(status.code) \(status.reasonPhrase) for \(request.method) \(request.uri.path)"
        }
    }

    /// A JSON error answer `{"error": message}` with `status`.
    static func response(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? JSONEncoder().encode(APIError(error: message))) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
