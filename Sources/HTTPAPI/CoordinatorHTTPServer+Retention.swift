import Coordinator
import Foundation
import Hummingbird
import Protocol

extension CoordinatorHTTPServer {
    /// `POST /v1/runs/prune` (`conduit runs prune`): the prune runs inside the coordinator, so it
    /// never races the runs and uploads it serves.
    static func addRetentionRoutes(to router: Router<BasicRequestContext>, service: CoordinatorService) {
        router.post("/v1/runs/prune") { request, _ in
            let body = try await decode(PruneRequest.self, from: request)
            return try await call { try json(try await service.prune(body)) }
        }
    }
}
