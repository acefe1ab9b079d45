import Artifacts
import Coordinator
import Foundation
import Protocol
import Spec

/// Calls a coordinator running in this process (`conduit run`).
struct LocalCoordinatorClient: CoordinatorClient {
    let service: CoordinatorService

    func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CoordinatorError {
            throw CLIError(error.message, exitCode: error.code == .invalidRequest || error.code == .notFound || error.code == .conflict ? ExitStatus.usage : ExitStatus.unavailable)
        }
    }

    func missingBlobs(_ digests: [String]) async throws -> [String] {
        try await call { try await service.missingBlobs(digests) }
    }

    func uploadBlob(digest: String, source: BlobSource) async throws {
        let store = service.artifactStore
        switch source {
        case .bytes(let bytes):
            _ = try store.put(bytes)
        case .file(let path):
            _ = try store.importFile(at: path)
        }
    }

    /// Submits without decoding the plan again: it is already in memory.
    func submit(_ request: SubmitRequest, plan: PipelinePlan) async throws -> String {
        try await call { try await service.submitReadingDatastores(request, plan: plan) }
    }

    func report(run: String) async throws -> RunReport {
        try await call { try await service.report(runID: run) }
    }

    func waitForChange(run: String, after version: Int64, seconds: Double) async throws -> RunReport {
        try await call { try await service.waitForChange(runID: run, after: version, timeout: .milliseconds(Int64(seconds * 1000))) }
    }

    func runs(limit: Int) async throws -> [RunReport] {
        try await call { try await service.listRuns(limit: limit) }
    }

    func searchRuns(limit: Int, filter: String?, sort: String?) async throws -> [RunReport] {
        try await call { try await service.searchRuns(limit: limit, filter: filter, sort: sort) }
    }

    func workers() async throws -> [WorkerReport] {
        try await call { try await service.listWorkers() }
    }

    func drain(worker: String) async throws -> [WorkerReport] {
        try await call {
            try await service.drain(worker: worker)
            return try await service.listWorkers()
        }
    }

    func workerKeys() async throws -> [WorkerKeyReport] {
        try await call { try await service.listWorkerKeys() }
    }

    func allowWorkerKey(_ key: String, name: String) async throws -> WorkerKeyReport {
        try await call { try await service.allowWorkerKey(key, name: name) }
    }

    func revokeWorkerKey(_ key: String) async throws -> WorkerKeyReport {
        try await call { try await service.revokeWorkerKey(key) }
    }

    func cancel(run: String) async throws -> RunReport {
        try await call {
            try await service.cancel(runID: run)
            return try await service.report(runID: run)
        }
    }

    func logs(run: String, step: String, attempt: Int?, offset: Int64) async throws -> (bytes: [UInt8], finished: Bool) {
        try await call { try await service.logs(runID: run, step: step, attempt: attempt, offset: offset) }
    }

    func metrics(run: String, step: String?, after: Int64) async throws -> MetricHistoryReport {
        try await call { try await service.metricHistory(runID: run, step: step, after: after) }
    }

    func explain(run: String, step: String) async throws -> Explanation {
        try await call { try await service.explain(runID: run, step: step) }
    }

    func outputs(run: String) async throws -> [OutputArtifact] {
        try await call { try await service.outputArtifacts(runID: run) }
    }

    func downloadBlob(digest: String, to path: String) async throws {
        guard let source = service.blobPath(digest: digest) else { throw CLIError("no blob \(digest)") }
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: source, toPath: path)
        // The copy is checked as the HTTP download is: a blob damaged on disk is quarantined.
        if try SHA256Hasher.digest(ofFileAt: path).digest.hex != digest {
            try? FileManager.default.removeItem(atPath: path)
            await service.reportDamagedBlob(digest, foundBy: "copying it for a local download")
            throw CLIError("blob \(digest) failed verification and was quarantined", exitCode: ExitStatus.unavailable)
        }
    }
}
