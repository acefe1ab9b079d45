import Coordinator
import Foundation
import Protocol

extension LocalCoordinatorClient {
    func prune(_ request: PruneRequest) async throws -> PruneReport {
        try await call { try await service.prune(request) }
    }
}
