import Foundation
import Protocol

extension HTTPCoordinatorClient {
    func outputAssets() async throws -> [OutputAsset] {
        try await get([OutputAsset].self, "v1/data")
    }

    func lineage(of subject: LineageSubject) async throws -> LineageReport {
        let query: [String: String] = switch subject {
        case .output(let run, let step, let output): ["run": run, "step": step, "output": output]
        case .asset(let name, let selector): ["asset": name, "version": selector]
        }
        return try await get(LineageReport.self, "v1/lineage", query: query)
    }
}
