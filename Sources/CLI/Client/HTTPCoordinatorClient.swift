import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Protocol
import Spec

/// Talks to a coordinator's HTTP/JSON API.
struct HTTPCoordinatorClient: CoordinatorClient {
    let baseURL: URL
    let session: URLSession

    init(baseURL: URL) {
        self.baseURL = baseURL
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 120
        self.session = URLSession(configuration: configuration)
    }

    private func url(_ path: String, query: [String: String] = [:]) -> URL {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty {
            components.queryItems = query.keys.sorted().map { URLQueryItem(name: $0, value: query[$0]) }
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        return components.url!
    }

    private func perform(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw CLIError(
                "cannot reach the coordinator at \(baseURL.absoluteString): \(error.localizedDescription). Start one with `conduit coordinator`, or set --coordinator-url / CONDUIT_URL.",
                exitCode: ExitStatus.unavailable
            )
        }
        guard let http = response as? HTTPURLResponse else {
            throw CLIError("the coordinator sent a response that is not HTTP", exitCode: ExitStatus.unavailable)
        }
        guard (200..<300).contains(http.statusCode) else {
            let message = (try? JSONDecoder().decode(APIError.self, from: data))?.error ?? String(decoding: data, as: UTF8.self)
            throw CLIError(message.isEmpty ? "the coordinator answered HTTP \(http.statusCode)" : message,
                           exitCode: http.statusCode == 404 || http.statusCode == 400 ? ExitStatus.usage : ExitStatus.unavailable)
        }
        return (data, http)
    }

    private func get<T: Decodable>(_ type: T.Type, _ path: String, query: [String: String] = [:]) async throws -> T {
        let (data, _) = try await perform(URLRequest(url: url(path, query: query)))
        return try decode(type, data)
    }

    private func post<T: Decodable>(_ type: T.Type, _ path: String, body: some Encodable) async throws -> T {
        var request = URLRequest(url: url(path))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(body)
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
        var request = URLRequest(url: url("v1/blobs/\(digest)"))
        request.httpMethod = "PUT"
        request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        switch source {
        case .bytes(let bytes):
            request.httpBody = Data(bytes)
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError("cannot read \(path) to upload it")
            }
            request.httpBody = data
        }
        request.setValue("\(request.httpBody?.count ?? 0)", forHTTPHeaderField: "Content-Length")
        _ = try await perform(request)
    }

    /// The plan travels as `request.planJSON`; the coordinator decodes it.
    func submit(_ request: SubmitRequest, plan _: PipelinePlan) async throws -> String {
        try await post(SubmitResponse.self, "v1/runs", body: request).run
    }

    func report(run: String) async throws -> RunReport {
        try await get(RunReport.self, "v1/runs/\(run)")
    }

    func waitForChange(run: String, after version: Int64, seconds: Double) async throws -> RunReport {
        try await get(RunReport.self, "v1/runs/\(run)", query: ["after": "\(version)", "wait": "\(seconds)"])
    }

    func runs(limit: Int) async throws -> [RunReport] {
        try await get([RunReport].self, "v1/runs", query: ["limit": "\(limit)"])
    }

    func workers() async throws -> [WorkerReport] {
        try await get([WorkerReport].self, "v1/workers")
    }

    func cancel(run: String) async throws -> RunReport {
        var request = URLRequest(url: url("v1/runs/\(run)/cancel"))
        request.httpMethod = "POST"
        let (data, _) = try await perform(request)
        return try decode(RunReport.self, data)
    }

    func logs(run: String, step: String, offset: Int64) async throws -> (bytes: [UInt8], finished: Bool) {
        let (data, response) = try await perform(URLRequest(url: url("v1/runs/\(run)/logs", query: ["step": step, "offset": "\(offset)"])))
        return (Array(data), response.value(forHTTPHeaderField: "X-Conduit-Step-Finished") == "true")
    }

    func explain(run: String, step: String) async throws -> Explanation {
        try await get(Explanation.self, "v1/runs/\(run)/explain", query: ["step": step])
    }

    func outputs(run: String) async throws -> [OutputArtifact] {
        try await get([OutputArtifact].self, "v1/runs/\(run)/outputs")
    }

    func downloadBlob(digest: String, to path: String) async throws {
        let (data, _) = try await perform(URLRequest(url: url("v1/blobs/\(digest)")))
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw CLIError("cannot write \(path)")
        }
    }
}
