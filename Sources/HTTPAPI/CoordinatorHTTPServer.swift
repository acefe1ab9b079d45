import Artifacts
import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import Protocol

/// The coordinator's HTTP/JSON API for clients (the CLI, the studio at `/ui`, triggers).
///
/// Routes are thin: each decodes its request, calls `CoordinatorService`, and encodes the answer.
/// Errors carry a JSON body `{"error": "..."}`; see `docs/protocol.md` for the route table.
public enum CoordinatorHTTPServer {
    /// The largest JSON request body accepted (a submission with a large plan).
    public static let maximumJSONBytes = 64 << 20

    /// An `Application` (a swift-service-lifecycle `Service`) serving `service` on `host:port`.
    /// `onRunning` receives the bound port (useful with port 0).
    ///
    /// With a `token`, every request (every route, and paths no route matches) must carry
    /// `Authorization: Bearer TOKEN` (see ``BearerTokenMiddleware``). Without one the API may only listen on
    /// loopback: see ``checkExposure(host:token:)``. Requests and their headers are not logged.
    ///
    /// With `unixSocket`, it listens on that Unix domain socket instead (the local service: the
    /// socket's directory decides who may connect). `activity` notes when requests come.
    ///
    /// `settings` bound every connection: one that sends no complete request head in time, or stays idle too
    /// long, is closed; one beyond the limits per client address or in all is closed at once, and refusals
    /// are logged at most once per address per interval (see ``HTTPServerSettings``).
    ///
    /// `GET /metrics` serves the Prometheus text format: `metrics` (the registry the coordinator's
    /// metrics factory records into) followed by gauges read from the coordinator at each scrape; see
    /// ``MetricsExposition``. It is behind the token like every route.
    ///
    /// - Throws: ``HTTPAccessError`` `tokenRequired` for a non-loopback `host` without a token.
    public static func application(
        service: CoordinatorService, host: String, port: Int, token: BearerToken? = nil,
        settings: HTTPServerSettings = .standard, logger: Logger, mlflowMirror: MLflowMirrorMonitor? = nil,
        metrics: PrometheusCollectorRegistry? = nil, unixSocket: String? = nil, activity: RequestActivity? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(HTTPAccessError) -> some ApplicationProtocol {
        if unixSocket == nil { try checkExposure(host: host, token: token) }
        let router = Router()
        router.add(middleware: ErrorBodyMiddleware())
        addRoutes(to: router, service: service, mlflowMirror: mlflowMirror)
        addMetricsRoute(to: router, service: service, registry: metrics)
        addStudioRoutes(to: router, service: service, token: token, layout: GraphvizLayout())
        return serve(
            router: router, host: host, port: port, token: token, settings: settings, logger: logger, unixSocket: unixSocket,
            activity: activity, onRunning: onRunning)
    }

    /// An `Application` that serves only `GET /metrics` (everything else is `404`), without a token: the
    /// `--metrics-listen` listener, for a Prometheus server kept off the API. It shows counts, worker
    /// names and labels, never run contents; listen where only the Prometheus server reaches it.
    public static func metricsApplication(
        service: CoordinatorService, host: String, port: Int, registry: PrometheusCollectorRegistry?,
        settings: HTTPServerSettings = .standard, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: ErrorBodyMiddleware())
        addMetricsRoute(to: router, service: service, registry: registry)
        return serve(router: router, host: host, port: port, token: nil, settings: settings, logger: logger, onRunning: onRunning)
    }

    /// Adds `GET /metrics` (see ``MetricsExposition``).
    static func addMetricsRoute(to router: Router<BasicRequestContext>, service: CoordinatorService, registry: PrometheusCollectorRegistry?) {
        router.get("/metrics") { _, _ in
            let bytes = MetricsExposition.render(await service.metricsSnapshot(), registry: registry)
            return Response(
                status: .ok, headers: [.contentType: MetricsExposition.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// The server around `router`: the token check when there is one, the connection limits of
    /// `settings`, on `host:port` or the Unix socket `unixSocket`; `activity` notes each request.
    static func serve(
        router: Router<BasicRequestContext>, host: String, port: Int, token: BearerToken?, settings: HTTPServerSettings, logger: Logger,
        unixSocket: String? = nil, activity: RequestActivity? = nil, onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let responder = ActivityResponder(
            inner: GuardedResponder(inner: router.buildResponder(), middleware: token.map { BearerTokenMiddleware(token: $0) }),
            activity: activity ?? RequestActivity())
        let connections = ConnectionGuard(settings: settings, logger: logger)
        return Application(
            responder: responder,
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(responder: responder, settings: settings, connections: connections)
            },
            configuration: .init(address: unixSocket.map { .unixDomainSocket(path: $0) } ?? .hostname(host, port: port), serverName: "conduit"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Refuses to serve a non-loopback `host` without a token: the API can submit commands that run on
    /// every worker, so only the local machine may use it unauthenticated.
    public static func checkExposure(host: String, token: BearerToken?) throws(HTTPAccessError) {
        guard token == nil, !isLoopback(host) else { return }
        throw HTTPAccessError(
            code: .tokenRequired,
            message: "the HTTP API would listen on \(host), which other machines can reach, without a token; "
                + "pass --http-token-file FILE (mode 0600, e.g. `openssl rand -hex 32 > FILE && chmod 600 FILE`) "
                + "or listen on 127.0.0.1")
    }

    /// Whether `host` names only this machine: `localhost`, an address in 127.0.0.0/8, or `::1`.
    public static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        // A dotted quad whose first octet is 127; anything else (a name, another address) is not loopback.
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        let values = octets.compactMap { octet in
            octet.count <= 3 && octet.allSatisfy({ ("0"..."9").contains($0) }) ? Int(octet) : nil
        }
        return octets.count == 4 && values.count == 4 && values.allSatisfy { $0 <= 255 } && values[0] == 127
    }

    static func addRoutes(to router: Router<BasicRequestContext>, service: CoordinatorService, mlflowMirror: MLflowMirrorMonitor? = nil) {
        router.get("/v1/health") { _, _ in
            try json(HealthReport(status: "ok", protocol: "\(ProtocolVersion.current)", mlflowMirror: mlflowMirror?.current))
        }
        router.post("/v1/blobs/missing") { request, context in
            let body = try await decode(MissingBlobsRequest.self, from: request)
            return try await call { try json(MissingBlobsResponse(missing: try await service.missingBlobs(body.digests))) }
        }
        router.put("/v1/blobs/{digest}") { request, context in
            let text = try context.parameters.require("digest")
            guard let digest = Digest(hex: text) else { throw HTTPError(.badRequest, message: "\(text) is not a SHA-256 digest") }
            let store = service.artifactStore
            if store.contains(digest) { return Response(status: .noContent) }
            guard let lengthText = request.headers[.contentLength], let length = Int64(lengthText), length >= 0 else {
                throw HTTPError(.lengthRequired, message: "PUT /v1/blobs needs a valid Content-Length")
            }
            let writer = try store.openWriter(for: digest, size: length)
            var offset = writer.offset
            var skip = offset
            for try await buffer in request.body {
                var bytes = Array(buffer.readableBytesView)
                if skip > 0 {
                    let dropped = min(Int64(bytes.count), skip)
                    bytes.removeFirst(Int(dropped))
                    skip -= dropped
                }
                guard !bytes.isEmpty else { continue }
                try writer.append(bytes, at: offset)
                offset += Int64(bytes.count)
            }
            do {
                try writer.finish()
            } catch {
                throw HTTPError(.badRequest, message: "blob \(text) was rejected: \(error)")
            }
            return Response(status: .created)
        }
        router.get("/v1/blobs/{digest}") { _, context in
            let text = try context.parameters.require("digest")
            let store = service.artifactStore
            guard let digest = Digest(hex: text), let size = store.size(of: digest) else {
                throw HTTPError(.notFound, message: "no blob \(text)")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream"],
                body: ResponseBody(contentLength: Int(size)) { writer in
                    // Verified as it is sent: the digest is checked before the last piece leaves, so a
                    // blob damaged on disk ends the response short (the client sees an error, never
                    // bad bytes it could take for good) and is quarantined.
                    var checksum = PrefixChecksum()
                    var offset: Int64 = 0
                    while offset < size {
                        let bytes = try store.read(digest, offset: offset, count: Int(min(1 << 20, size - offset)))
                        if bytes.isEmpty { break }
                        _ = checksum.append(bytes)
                        offset += Int64(bytes.count)
                        if offset >= size, checksum.digest != digest {
                            await service.reportDamagedBlob(text, foundBy: "serving GET /v1/blobs/\(text)")
                            throw HTTPError(.internalServerError, message: "blob \(text) failed verification and was quarantined")
                        }
                        try await writer.write(ByteBuffer(bytes: bytes))
                    }
                    try await writer.finish(nil)
                }
            )
        }
        router.post("/v1/runs") { request, _ in
            let body = try await decode(SubmitRequest.self, from: request)
            return try await call { try json(SubmitResponse(run: try await service.submitReadingDatastores(body))) }
        }
        router.get("/v1/runs") { request, _ in
            let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 50
            let filter = request.uri.queryParameters["filter"].map(String.init)
            let sort = request.uri.queryParameters["sort"].map(String.init)
            if filter != nil || sort != nil {
                return try await call { try json(try await service.searchRuns(limit: limit, filter: filter, sort: sort)) }
            }
            return try await call { try json(try await service.listRuns(limit: limit)) }
        }
        router.get("/v1/runs/{id}") { request, context in
            let id = try context.parameters.require("id")
            if let after = request.uri.queryParameters["after"].flatMap({ Int64($0) }) {
                let seconds = request.uri.queryParameters["wait"].flatMap { Double($0) } ?? 10
                let timeout = Duration.milliseconds(Int64(min(max(seconds, 0), 60) * 1000))
                return try await call { try json(try await service.waitForChange(runID: id, after: after, timeout: timeout)) }
            }
            return try await call { try json(try await service.report(runID: id)) }
        }
        router.post("/v1/runs/{id}/cancel") { _, context in
            let id = try context.parameters.require("id")
            return try await call {
                try await service.cancel(runID: id)
                return try json(try await service.report(runID: id))
            }
        }
        router.get("/v1/runs/{id}/logs") { request, context in
            let id = try context.parameters.require("id")
            guard let step = request.uri.queryParameters["step"].map(String.init) else {
                throw HTTPError(.badRequest, message: "logs need ?step=NAME")
            }
            let offset = try logOffset(request.uri.queryParameters["offset"].map(String.init))
            let attempt = try attemptNumber(request.uri.queryParameters["attempt"].map(String.init))
            return try await call {
                let (bytes, finished) = try await service.logs(runID: id, step: step, attempt: attempt, offset: offset)
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; charset=utf-8", HTTPField.Name("X-Conduit-Step-Finished")!: finished ? "true" : "false"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
                )
            }
        }
        router.get("/v1/runs/{id}/metrics") { request, context in
            let id = try context.parameters.require("id")
            let step = request.uri.queryParameters["step"].map(String.init)
            let after = try sequenceNumber(request.uri.queryParameters["after"].map(String.init))
            return try await call { try json(try await service.metricHistory(runID: id, step: step, after: after)) }
        }
        router.get("/v1/runs/{id}/explain") { request, context in
            let id = try context.parameters.require("id")
            guard let step = request.uri.queryParameters["step"].map(String.init) else {
                throw HTTPError(.badRequest, message: "explain needs ?step=NAME")
            }
            return try await call { try json(try await service.explain(runID: id, step: step)) }
        }
        router.get("/v1/runs/{id}/outputs") { _, context in
            let id = try context.parameters.require("id")
            return try await call { try json(try await service.outputArtifacts(runID: id)) }
        }
        addIterationRoutes(to: router, service: service)
        addRetentionRoutes(to: router, service: service)
        addLineageRoutes(to: router, service: service)
        router.get("/v1/workers") { _, _ in
            try await call { try json(try await service.listWorkers()) }
        }
        router.post("/v1/workers/{name}/drain") { _, context in
            let name = try context.parameters.require("name")
            return try await call {
                try await service.drain(worker: name)
                return try json(try await service.listWorkers())
            }
        }
        router.get("/v1/worker-keys") { _, _ in
            try await call { try json(try await service.listWorkerKeys()) }
        }
        router.post("/v1/worker-keys") { request, _ in
            let body = try await decode(AllowWorkerKeyRequest.self, from: request)
            return try await call { try json(try await service.allowWorkerKey(body.key, name: body.name), status: .created) }
        }
        router.delete("/v1/worker-keys/{key}") { _, context in
            // Z85 keys hold characters a path must escape (`/`, `?`, `#`, `%`…): the key comes percent-encoded.
            let text = try context.parameters.require("key")
            let key = text.removingPercentEncoding ?? text
            return try await call { try json(try await service.revokeWorkerKey(key)) }
        }
    }

    /// The largest `offset` a log request may ask for: 1 TiB, far beyond any step's log.
    public static let maximumLogOffset: Int64 = 1 << 40

    /// The whole number a query parameter holds, or nil when it is not one (digits only, no sign).
    static func wholeNumber(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int64(text)
    }

    /// A query parameter as an error shows it (at most 40 characters).
    static func shown(_ text: String) -> String {
        text.count > 40 ? String(text.prefix(40)) + "…" : text
    }

    /// The `after` of a metrics request (0 when absent).
    ///
    /// - Throws: `400` for anything but a whole number from 0.
    static func sequenceNumber(_ text: String?) throws -> Int64 {
        guard let text else { return 0 }
        guard let value = wholeNumber(text) else {
            throw HTTPError(.badRequest, message: "after must be a whole number from 0 (the 'last' of an earlier report), got '\(shown(text))'")
        }
        return value
    }

    /// The byte offset of `?offset=BYTES` (0 when absent).
    ///
    /// - Throws: `400` naming the accepted range for anything but a whole number from 0 to
    ///   ``maximumLogOffset``.
    static func logOffset(_ text: String?) throws -> Int64 {
        guard let text else { return 0 }
        guard let offset = wholeNumber(text), offset <= maximumLogOffset else {
            throw HTTPError(
                .badRequest,
                message: "offset must be a whole number of bytes from 0 to \(maximumLogOffset), got '\(shown(text))'")
        }
        return offset
    }

    /// The largest attempt number a log request may name.
    public static let maximumAttemptNumber = 1_000_000

    /// The attempt number of `?attempt=N` (nil when absent: the latest attempt).
    ///
    /// - Throws: `400` naming the accepted range for anything but a whole number from 1 to
    ///   ``maximumAttemptNumber``.
    static func attemptNumber(_ text: String?) throws -> Int? {
        guard let text else { return nil }
        guard let number = wholeNumber(text), (1...Int64(maximumAttemptNumber)).contains(number) else {
            throw HTTPError(.badRequest, message: "attempt must be a whole number from 1 to \(maximumAttemptNumber), got '\(shown(text))'")
        }
        return Int(number)
    }

    /// Runs `body`, turning coordinator errors into HTTP errors with a JSON body.
    static func call(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as CoordinatorError {
            let status: HTTPResponse.Status = switch error.code {
            case .notFound: .notFound
            case .invalidRequest: .badRequest
            case .conflict: .conflict
            default: .internalServerError
            }
            return try json(APIError(error: error.message), status: status)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumJSONBytes)
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "the request body is not a valid \(T.self): \(error)")
        }
    }
}
