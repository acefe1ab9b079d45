import Coordinator
import Foundation
import Protocol

extension LocalCoordinatorClient {
    func outputAssets() async throws -> [OutputAsset] {
        try await call { try await service.outputAssets() }
    }

    func lineage(of subject: LineageSubject) async throws -> LineageReport {
        try await call { try await service.lineage(of: subject) }
    }
}
