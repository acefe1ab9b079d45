import Coordinator
import Foundation
import Hummingbird
import Protocol

extension CoordinatorHTTPServer {
    /// `GET /v1/data` (the data assets runs registered) and `GET /v1/lineage` (`conduit lineage`).
    static func addLineageRoutes(to router: Router<BasicRequestContext>, service: CoordinatorService) {
        router.get("/v1/data") { _, _ in
            try await call { try json(try await service.outputAssets()) }
        }
        // ?run=R&step=S&output=O, or ?asset=NAME&version=V (a version, or `latest`).
        router.get("/v1/lineage") { request, _ in
            let query = request.uri.queryParameters
            let subject: LineageSubject
            if let asset = query["asset"].map(String.init) {
                subject = .asset(name: asset, selector: query["version"].map(String.init) ?? "latest")
            } else if let run = query["run"].map(String.init), let step = query["step"].map(String.init),
                      let output = query["output"].map(String.init) {
                subject = .output(run: run, step: step, output: output)
            } else {
                throw HTTPError(.badRequest, message: "give run, step and output, or asset (and version)")
            }
            return try await call { try json(try await service.lineage(of: subject)) }
        }
    }
}
