import Coordinator
import Foundation
import Protocol
import Spec

extension LocalCoordinatorClient {
    /// Hands the plan over already decoded.
    func dryRun(_ request: DryRunRequest, plan: PipelinePlan) async throws -> DryRunReport {
        try await call { try await service.dryRunReadingDatastores(request, plan: plan) }
    }

    func rerun(run: String, request: RerunRequest) async throws -> RerunResponse {
        try await call { try await service.rerun(runID: run, request: request) }
    }

    func diff(a: String, b: String) async throws -> RunDiffReport {
        try await call { try await service.diff(runA: a, runB: b) }
    }

    func stepDetail(run: String, step: String) async throws -> StepDetail {
        try await call { try await service.stepDetail(runID: run, step: step) }
    }
}
