import Foundation
import Protocol
import Testing

@testable import HTTPAPI

/// Which nodes the studio draws, and laying them out with Graphviz.
struct StudioGraphViewTests {
    /// `prep`, then two components of three chained steps each, joined by `report`.
    static let grouped = RunGraph(
        run: "r", pipeline: "p",
        steps: ["prep", "a/x", "a/y", "a/z", "b/x", "b/y", "b/z", "report"],
        edges: [[0, 1], [1, 2], [2, 3], [0, 4], [4, 5], [5, 6], [3, 7], [6, 7], [2, 7]])

    @Test func aSmallGraphOpensEveryGroup() {
        let view = StudioGraphView(graph: Self.grouped, expanded: nil)
        #expect(view.nodes == Self.grouped.steps)
        #expect(view.edges.count == 9)
        #expect(view.stepNodes == Array(0..<8))
    }

    @Test func aCollapsedGroupIsOneNodeWithItsEdgesMerged() {
        let view = StudioGraphView(graph: Self.grouped, expanded: ["b/"])
        #expect(view.nodes == ["prep", "a/", "b/x", "b/y", "b/z", "report"])
        #expect(view.sizes == [1, 3, 1, 1, 1, 1])
        // a/x, a/y, a/z → report collapse into one a/ → report edge; no a/ → a/ loop.
        #expect(Set(view.edges) == [[0, 1], [0, 2], [2, 3], [3, 4], [1, 5], [4, 5]])
        #expect(view.stepNodes == [0, 1, 1, 1, 2, 3, 4, 5])
    }

    @Test func tenThousandStepsAreBundledBelowTheLimit() {
        // 10,000 ungrouped steps in a chain of fans: the view stays within what dot lays out quickly.
        let steps = (0..<10_000).map { "step\($0)" }
        let edges = (1..<10_000).map { [($0 - 1) / 4 * 4, $0] }.filter { $0[0] != $0[1] }
        let view = StudioGraphView(graph: RunGraph(run: "r", pipeline: "p", steps: steps, edges: edges), expanded: nil)
        #expect(view.nodes.count <= StudioGraphView.maximumNodes)
        #expect(view.sizes.reduce(0, +) == 10_000)
        #expect(view.nodes.allSatisfy { $0.hasPrefix("#") && $0.hasSuffix("/") })
        // Opening one block shows its steps and keeps the rest bundled.
        let opened = StudioGraphView(graph: RunGraph(run: "r", pipeline: "p", steps: steps, edges: edges), expanded: ["#2/"])
        #expect(opened.nodes.contains("step100") && !opened.nodes.contains("#2/"))
        #expect(opened.nodes.count <= StudioGraphView.maximumNodes + 100)
    }

    @Test func graphvizPlacesEveryNodeAndRemembersTheLayout() async throws {
        let engine = GraphvizLayout()
        try #require(GraphvizLayout.findDot() != nil, "the studio's layout needs Graphviz: apt-get install graphviz")
        let view = StudioGraphView(graph: Self.grouped, expanded: nil)
        let layout = try await engine.layout(of: view)
        #expect(layout.positions.count == view.nodes.count)
        // Layered top to bottom: every edge points down.
        for edge in view.edges { #expect(layout.positions[edge[0]][1] < layout.positions[edge[1]][1], "\(edge)") }
        #expect(await engine.cache.count == 1)
        _ = try await engine.layout(of: view)
        #expect(await engine.cache.count == 1)
    }

    @Test func aMissingGraphvizIsNamedWithWhatToInstall() async {
        let engine = GraphvizLayout(executable: nil)
        await #expect(throws: GraphvizLayoutError.self) { try await engine.layout(of: StudioGraphView(graph: Self.grouped, expanded: nil)) }
        do throws(GraphvizLayoutError) {
            _ = try await engine.layout(of: StudioGraphView(graph: Self.grouped, expanded: nil))
        } catch {
            #expect(error.code == .notInstalled && error.message.contains("apt-get install graphviz"))
        }
    }

    @Test func plainOutputIsReadInPointsFromTheTop() throws {
        let plain = "graph 1 3 2\nnode n0 1.5 1.75 2.2 0.5 n0 solid box black lightgrey\nnode n1 1.5 0.25 2.2 0.5 n1 solid box black lightgrey\nstop\n"
        let layout = try GraphvizLayout.parse(plain: plain, nodeCount: 2)
        #expect(layout.width == 216 && layout.height == 144)
        #expect(layout.positions == [[108, 18], [108, 126]])
        #expect(throws: GraphvizLayoutError.self) { try GraphvizLayout.parse(plain: plain, nodeCount: 3) }
    }
}
