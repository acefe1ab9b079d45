import Coordinator
import Foundation
import Hummingbird
import Protocol

extension CoordinatorHTTPServer {
    /// Dry runs, re-runs, run diffs and step details (`conduit submit --dry-run`, `rerun`, `diff`,
    /// `step run --local`).
    static func addIterationRoutes(to router: Router<BasicRequestContext>, service: CoordinatorService) {
        router.post("/v1/runs/dry-run") { request, _ in
            let body = try await decode(DryRunRequest.self, from: request)
            return try await call { try json(try await service.dryRunReadingDatastores(body)) }
        }
        router.post("/v1/runs/{id}/rerun") { request, context in
            let id = try context.parameters.require("id")
            let body = try await decode(RerunRequest.self, from: request)
            return try await call { try json(try await service.rerun(runID: id, request: body)) }
        }
        router.get("/v1/runs/{id}/diff/{other}") { _, context in
            let id = try context.parameters.require("id")
            let other = try context.parameters.require("other")
            return try await call { try json(try await service.diff(runA: id, runB: other)) }
        }
        router.get("/v1/runs/{id}/detail") { request, context in
            let id = try context.parameters.require("id")
            guard let step = request.uri.queryParameters["step"].map(String.init) else {
                throw HTTPError(.badRequest, message: "a step detail needs ?step=NAME")
            }
            return try await call { try json(try await service.stepDetail(runID: id, step: step)) }
        }
    }
}
