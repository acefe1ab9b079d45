import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Protocol

extension CoordinatorHTTPServer {
    /// Where the chart library comes from: Debian's `libjs-chart.js`, served as `/ui/vendor/chart.js`.
    public static let chartLibraryPath = "/usr/share/javascript/chart.js/chart.min.js"

    /// The studio (`/ui`): its page, script and style (compiled into the binary), its login page, the
    /// chart library from the distribution's package, and the graph route the page draws from.
    static func addStudioRoutes(
        to router: Router<BasicRequestContext>, service: CoordinatorService, token: BearerToken?, layout: GraphvizLayout
    ) {
        router.get("/ui") { _, _ in page(StudioAssets.indexHTML, type: "text/html; charset=utf-8") }
        router.get("/ui/app.js") { _, _ in page(StudioAssets.appJS, type: "text/javascript; charset=utf-8") }
        router.get("/ui/app.css") { _, _ in page(StudioAssets.appCSS, type: "text/css; charset=utf-8") }
        router.get("/ui/login.css") { _, _ in page(StudioAssets.appCSS, type: "text/css; charset=utf-8") }
        router.get("/ui/vendor/chart.js") { _, _ in
            guard let data = FileManager.default.contents(atPath: chartLibraryPath) else {
                throw HTTPError(
                    .notFound,
                    message: "Chart.js is not installed on the coordinator's machine; install it with `apt-get install libjs-chart.js` to see metrics as charts")
            }
            return Response(
                status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/ui/login") { _, _ in
            guard token != nil else { return Response(status: .seeOther, headers: [.location: "/ui"]) }
            return page(StudioAssets.loginHTML(message: nil), type: "text/html; charset=utf-8")
        }
        router.post("/ui/login") { request, _ in
            guard let token else { return Response(status: .seeOther, headers: [.location: "/ui"]) }
            var request = request
            let body = try await request.collectBody(upTo: 16 << 10)
            let presented = formValue("token", in: String(decoding: body.readableBytesView, as: UTF8.self)) ?? ""
            guard token.matches(Array(presented.utf8)) else {
                var response = page(StudioAssets.loginHTML(message: "That token is wrong. Use the token in the coordinator's --http-token-file."),
                                    type: "text/html; charset=utf-8")
                response.status = .unauthorized
                return response
            }
            var headers: HTTPFields = [.location: "/ui"]
            for cookie in StudioSession.loginCookies(token: token) { headers.append(HTTPField(name: .setCookie, value: cookie)) }
            return Response(status: .seeOther, headers: headers)
        }
        router.get("/v1/runs/{id}/graph") { request, context in
            let id = try context.parameters.require("id")
            let expanded = request.uri.queryParameters["expand"].map { text in
                Set(text.split(separator: ",").map(String.init).filter { $0.hasSuffix("/") })
            }
            return try await call {
                var graph = try await service.graph(runID: id)
                let view = StudioGraphView(graph: graph, expanded: expanded)
                var laidOut: GraphLayout?
                var note: String?
                do throws(GraphvizLayoutError) {
                    laidOut = try await layout.layout(of: view)
                } catch {
                    note = error.message
                }
                graph.view = RunGraphView(nodes: view.nodes, sizes: view.sizes, stepNodes: view.stepNodes, edges: view.edges, layout: laidOut, note: note)
                return try json(graph)
            }
        }
    }

    /// A text answer of `type`, not cached by the browser (the binary may change under it).
    static func page(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "no-store", HTTPField.Name("X-Frame-Options")!: "DENY"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The value of `name` in an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == name else { continue }
            let value = parts[1].replacingOccurrences(of: "+", with: " ")
            return value.removingPercentEncoding ?? value
        }
        return nil
    }
}
