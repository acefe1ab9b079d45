import Foundation
import Protocol

extension HTTPCoordinatorClient {
    func prune(_ request: PruneRequest) async throws -> PruneReport {
        try await post(PruneReport.self, "v1/runs/prune", body: request)
    }
}
