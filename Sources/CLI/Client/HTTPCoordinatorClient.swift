import AsyncHTTPClient
import Coordinator
import Foundation
import HTTPAPI
import NIOCore
import NIOHTTP1
import Protocol
import Spec

/// Talks to a coordinator's HTTP/JSON API (AsyncHTTPClient on SwiftNIO: idle while it waits on
/// a long poll, and blobs stream to and from files in constant memory).
struct HTTPCoordinatorClient: CoordinatorClient {
    let baseURL: URL
    let client: HTTPClient

    /// The largest JSON answer accepted (a report of a run with many thousand steps fits).
    static let maximumAnswerBytes = 256 << 20
    /// Bytes read from a file per chunk of an upload.
    static let uploadChunkBytes = 1 << 20

    /// Sent as `Authorization: Bearer TOKEN` on every request when set.
    let token: BearerToken?

    init(baseURL: URL, token: BearerToken? = nil) {
        self.baseURL = baseURL
        self.token = token
        self.client = Self.sharedClient
    }

    /// A client of the local service listening on the Unix socket `socketPath` (nil when the path
    /// cannot be put in a URL).
    init?(socketPath: String) {
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: "/") else { return nil }
        self.init(baseURL: url)
    }

    /// The process-wide client (its threads live as long as the process, so it needs no shutdown).
    /// A coordinator that does not answer a connection within 3 s is reported as unreachable, instead
    /// of the request retrying until its own deadline.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(3)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func url(_ path: String, query: [String: String] = [:]) -> String {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty {
            components.queryItems = query.keys.sorted().map { URLQueryItem(name: $0, value: query[$0]) }
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        return components.url!.absoluteString
    }

    private func unreachable(_ error: any Error) -> CLIError {
        if baseURL.scheme == "http+unix" {
            return CLIError(
                "cannot reach the local service (\(baseURL.host(percentEncoded: false) ?? "its socket")): \(error); `conduit service status` says whether it runs, and its log is service.log beside the socket",
                exitCode: ExitStatus.unavailable)
        }
        return CLIError(
            "cannot reach the coordinator at \(baseURL.absoluteString): \(error). Start one with `conduit coordinator`, or set --coordinator-url / CONDUIT_URL; without either, commands use the local service of this machine.",
            exitCode: ExitStatus.unavailable
        )
    }

    /// Sends `request`; returns the response once its status is 2xx (its body not yet read).
    private func execute(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(120)) async throws -> HTTPClientResponse {
        var request = request
        if let token { request.headers.replaceOrAdd(name: "Authorization", value: token.authorizationValue) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw unreachable(error)
        }
        guard (200..<300).contains(response.status.code) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data(buffer: $0) } ?? Data()
            let message = (try? JSONDecoder().decode(APIError.self, from: body))?.error ?? String(decoding: body, as: UTF8.self)
            let code = Int(response.status.code)
            throw CLIError(message.isEmpty ? "the coordinator answered HTTP \(code)" : message,
                           exitCode: code == 404 || code == 400 || code == 409 ? ExitStatus.usage : ExitStatus.unavailable)
        }
        return response
    }

    /// Sends `request` and reads the whole answer.
    func perform(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(120)) async throws -> (Data, HTTPClientResponse) {
        let response = try await execute(request, timeout: timeout)
        do {
            let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            return (Data(buffer: body), response)
        } catch {
            throw unreachable(error)
        }
    }

    func get<T: Decodable>(_ type: T.Type, _ path: String, query: [String: String] = [:], timeout: TimeAmount = .seconds(120)) async throws -> T {
        let (data, _) = try await perform(HTTPClientRequest(url: url(path, query: query)), timeout: timeout)
        return try decode(type, data)
    }

    func post<T: Decodable>(_ type: T.Type, _ path: String, body: some Encodable) async throws -> T {
        try await post(type, path, json: ByteBuffer(data: try JSONEncoder().encode(body)))
    }

    func post<T: Decodable>(_ type: T.Type, _ path: String, json: ByteBuffer) async throws -> T {
        var request = HTTPClientRequest(url: url(path))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(json)
        let (data, _) = try await perform(request)
        return try decode(type, data)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw CLIError("the coordinator's answer does not decode as \(T.self): \(error)", exitCode: ExitStatus.unavailable)
        }
    }

    func missingBlobs(_ digests: [String]) async throws -> [String] {
        try await post(MissingBlobsResponse.self, "v1/blobs/missing", body: MissingBlobsRequest(digests: digests)).missing
    }

    func uploadBlob(digest: String, source: BlobSource) async throws {
        var request = HTTPClientRequest(url: url("v1/blobs/\(digest)"))
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        switch source {
        case .bytes(let bytes):
            request.body = .bytes(ByteBuffer(bytes: bytes))
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIError("cannot read \(path) to upload it") }
            let size = (try? handle.seekToEnd()).map(Int64.init) ?? 0
            try? handle.seek(toOffset: 0)
            let chunks = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                do {
                    while let data = try handle.read(upToCount: Self.uploadChunkBytes), !data.isEmpty {
                        continuation.yield(ByteBuffer(data: data))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: CLIError("cannot read \(path) to upload it: \(error)"))
                }
                try? handle.close()
            }
            request.body = .stream(chunks, length: .known(size))
        }
        _ = try await perform(request, timeout: .hours(24))
    }

    /// The plan travels as `request.planJSON` in the hand-written request JSON; the coordinator decodes it.
    func submit(_ request: SubmitRequest, plan _: PipelinePlan) async throws -> String {
        try await post(SubmitResponse.self, "v1/runs", json: ByteBuffer(string: request.json)).run
    }

    func report(run: String) async throws -> RunReport {
        try await get(RunReport.self, "v1/runs/\(run)")
    }

    func waitForChange(run: String, after version: Int64, seconds: Double) async throws -> RunReport {
        try await get(
            RunReport.self, "v1/runs/\(run)", query: ["after": "\(version)", "wait": "\(seconds)"],
            timeout: .seconds(Int64(seconds.rounded(.up)) + 120)
        )
    }

    func runs(limit: Int) async throws -> [RunReport] {
        try await get([RunReport].self, "v1/runs", query: ["limit": "\(limit)"])
    }

    func searchRuns(limit: Int, filter: String?, sort: String?) async throws -> [RunReport] {
        var query = ["limit": "\(limit)"]
        if let filter { query["filter"] = filter }
        if let sort { query["sort"] = sort }
        return try await get([RunReport].self, "v1/runs", query: query)
    }

    func workers() async throws -> [WorkerReport] {
        try await get([WorkerReport].self, "v1/workers")
    }

    func drain(worker: String) async throws -> [WorkerReport] {
        let name = worker.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? worker
        var request = HTTPClientRequest(url: url("v1/workers/\(name)/drain"))
        request.method = .POST
        let (data, _) = try await perform(request)
        return try decode([WorkerReport].self, data)
    }

    func workerKeys() async throws -> [WorkerKeyReport] {
        try await get([WorkerKeyReport].self, "v1/worker-keys")
    }

    func allowWorkerKey(_ key: String, name: String) async throws -> WorkerKeyReport {
        try await post(WorkerKeyReport.self, "v1/worker-keys", body: AllowWorkerKeyRequest(key: key, name: name))
    }

    /// The key travels percent-encoded in the path: Z85 uses `/`, `?`, `#`, `%` and more.
    func revokeWorkerKey(_ key: String) async throws -> WorkerKeyReport {
        let escaped = key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? key
        let path = baseURL.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/v1/worker-keys/" + escaped
        var request = HTTPClientRequest(url: path)
        request.method = .DELETE
        let (data, _) = try await perform(request)
        return try decode(WorkerKeyReport.self, data)
    }

    func cancel(run: String) async throws -> RunReport {
        var request = HTTPClientRequest(url: url("v1/runs/\(run)/cancel"))
        request.method = .POST
        let (data, _) = try await perform(request)
        return try decode(RunReport.self, data)
    }

    func logs(run: String, step: String, attempt: Int?, offset: Int64) async throws -> (bytes: [UInt8], finished: Bool) {
        var query = ["step": step, "offset": "\(offset)"]
        if let attempt { query["attempt"] = "\(attempt)" }
        let (data, response) = try await perform(HTTPClientRequest(url: url("v1/runs/\(run)/logs", query: query)))
        return (Array(data), response.headers.first(name: "X-Conduit-Step-Finished") == "true")
    }

    func metrics(run: String, step: String?, after: Int64) async throws -> MetricHistoryReport {
        var query = ["after": "\(after)"]
        if let step { query["step"] = step }
        return try await get(MetricHistoryReport.self, "v1/runs/\(run)/metrics", query: query)
    }

    func explain(run: String, step: String) async throws -> Explanation {
        try await get(Explanation.self, "v1/runs/\(run)/explain", query: ["step": step])
    }

    func outputs(run: String) async throws -> [OutputArtifact] {
        try await get([OutputArtifact].self, "v1/runs/\(run)/outputs")
    }

    /// Streams the blob into `path`, chunk by chunk.
    func downloadBlob(digest: String, to path: String) async throws {
        let response = try await execute(HTTPClientRequest(url: url("v1/blobs/\(digest)")), timeout: .hours(24))
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CLIError("cannot write \(path)")
        }
        defer { try? handle.close() }
        do {
            for try await chunk in response.body {
                try handle.write(contentsOf: Data(buffer: chunk))
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("downloading blob \(digest) into \(path) failed: \(error)", exitCode: ExitStatus.unavailable)
        }
    }
}
