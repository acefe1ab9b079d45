import AsyncHTTPClient
import Coordinator
import Foundation
import NIOCore

/// MLflow's tracking REST API over HTTP, for the coordinator's mirror (`mlflow: {tracking_uri: ...}`
/// in the `--config` file).
struct HTTPMLflowClient: MLflowTrackingAPI {
    /// The server, e.g. `http://127.0.0.1:5000`.
    let trackingURI: String
    let client: HTTPClient

    init(trackingURI: String) {
        self.trackingURI = trackingURI.hasSuffix("/") ? String(trackingURI.dropLast()) : trackingURI
        self.client = HTTPCoordinatorClient.sharedClient
    }

    func experimentID(named name: String) async throws(MLflowMirrorError) -> String {
        let query = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
        do throws(MLflowMirrorError) {
            let found = try await call("GET", "experiments/get-by-name?experiment_name=\(query)", nil)
            if let experiment = found["experiment"] as? [String: Any], let id = experiment["experiment_id"] as? String,
               experiment["lifecycle_stage"] as? String != "deleted" {
                return id
            }
            throw MLflowMirrorError(.rejected, "experiment \(name) on \(trackingURI) is deleted: restore it (mlflow experiments restore) or delete it for good (mlflow gc)")
        } catch where error.code == .rejected && error.message.contains("RESOURCE_DOES_NOT_EXIST") {
            // None yet: created below.
        }
        do throws(MLflowMirrorError) {
            let created = try await call("POST", "experiments/create", ["name": name])
            guard let id = created["experiment_id"] as? String else { throw invalid("experiments/create", created) }
            return id
        } catch where error.code == .rejected && error.message.contains("RESOURCE_ALREADY_EXISTS") {
            // Created meanwhile by someone else.
            let found = try await call("GET", "experiments/get-by-name?experiment_name=\(query)", nil)
            guard let id = (found["experiment"] as? [String: Any])?["experiment_id"] as? String else { throw invalid("experiments/get-by-name", found) }
            return id
        }
    }

    func findRun(experimentID: String, tags: [String: String]) async throws(MLflowMirrorError) -> String? {
        // MLflow's filter syntax cannot quote a quote: such a run is not looked for.
        guard !tags.values.contains(where: { $0.contains("'") }) else { return nil }
        let filter = tags.keys.sorted().map { "tags.`\($0)` = '\(tags[$0]!)'" }.joined(separator: " and ")
        let answer = try await call("POST", "runs/search", ["experiment_ids": [experimentID], "filter": filter, "max_results": 1])
        let runs = answer["runs"] as? [[String: Any]] ?? []
        return (runs.first?["info"] as? [String: Any])?["run_id"] as? String
    }

    func createRun(experimentID: String, startTime: Int64, tags: [String: String]) async throws(MLflowMirrorError) -> String {
        let body: [String: Any] = [
            "experiment_id": experimentID, "start_time": startTime,
            "tags": tags.keys.sorted().map { ["key": $0, "value": tags[$0]!] },
        ]
        let answer = try await call("POST", "runs/create", body)
        guard let id = ((answer["run"] as? [String: Any])?["info"] as? [String: Any])?["run_id"] as? String else {
            throw invalid("runs/create", answer)
        }
        return id
    }

    func logBatch(runID: String, metrics: [MLflowMetric], params: [MLflowKeyValue], tags: [MLflowKeyValue]) async throws(MLflowMirrorError) {
        let body: [String: Any] = [
            "run_id": runID,
            "metrics": metrics.map { ["key": $0.key, "value": $0.value, "timestamp": $0.timestamp, "step": $0.step] as [String: Any] },
            "params": params.map { ["key": $0.key, "value": $0.value] },
            "tags": tags.map { ["key": $0.key, "value": $0.value] },
        ]
        _ = try await call("POST", "runs/log-batch", body)
    }

    func endRun(runID: String, status: String, endTime: Int64) async throws(MLflowMirrorError) {
        _ = try await call("POST", "runs/update", ["run_id": runID, "status": status, "end_time": endTime])
    }

    private func invalid(_ route: String, _ answer: [String: Any]) -> MLflowMirrorError {
        MLflowMirrorError(.invalidResponse, "\(trackingURI) answered \(route) without what MLflow's REST API returns: \(String(describing: answer).prefix(300)); is it an MLflow tracking server?")
    }

    /// Makes one call to `/api/2.0/mlflow/PATH` and returns the JSON object answered.
    private func call(_ method: String, _ path: String, _ body: [String: Any]?) async throws(MLflowMirrorError) -> [String: Any] {
        let url = "\(trackingURI)/api/2.0/mlflow/\(path)"
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data("{}".utf8)
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let status: Int
        let data: Data
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
        } catch {
            throw MLflowMirrorError(.unavailable, "cannot reach the MLflow server at \(trackingURI) (\(path)): \(error)")
        }
        let text = String(decoding: data.prefix(500), as: UTF8.self)
        switch status {
        case 200..<300:
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw MLflowMirrorError(.invalidResponse, "\(url) answered HTTP \(status) with no JSON object (\(text)); is it an MLflow tracking server?")
            }
            return object
        case 429, 500...:
            throw MLflowMirrorError(.unavailable, "the MLflow server at \(trackingURI) answered \(path) with HTTP \(status): \(text)")
        default:
            throw MLflowMirrorError(.rejected, "the MLflow server at \(trackingURI) refused \(path) with HTTP \(status): \(text)")
        }
    }
}
