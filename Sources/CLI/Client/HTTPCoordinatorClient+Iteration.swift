import AsyncHTTPClient
import Foundation
import NIOCore
import Protocol
import Spec

extension HTTPCoordinatorClient {
    /// The plan travels inside the submission; the coordinator decodes it.
    func dryRun(_ request: DryRunRequest, plan _: PipelinePlan) async throws -> DryRunReport {
        try await post(DryRunReport.self, "v1/runs/dry-run", body: request)
    }

    func rerun(run: String, request: RerunRequest) async throws -> RerunResponse {
        try await post(RerunResponse.self, "v1/runs/\(Self.pathComponent(run))/rerun", body: request)
    }

    func diff(a: String, b: String) async throws -> RunDiffReport {
        try await get(RunDiffReport.self, "v1/runs/\(Self.pathComponent(a))/diff/\(Self.pathComponent(b))")
    }

    /// The step travels as a query parameter: nested step names contain `/`.
    func stepDetail(run: String, step: String) async throws -> StepDetail {
        try await get(StepDetail.self, "v1/runs/\(Self.pathComponent(run))/detail", query: ["step": step])
    }

    /// A run id as one path component (ids are plain, but a user may type anything).
    static func pathComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? text
    }
}
