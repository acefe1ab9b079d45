import Protocol

/// Which nodes the studio draws for a run's DAG, given the pipeline components (groups) the user
/// expanded: a pure function of the graph, no I/O.
///
/// A step named `node/child` belongs to the group `node/` (its first path segment). A collapsed group is
/// one node standing for all its steps; an expanded one shows them. When the drawing would still hold
/// more than ``maximumNodes`` nodes, top-level items (steps outside any group, and collapsed groups) are
/// bundled in plan order into blocks (`#1/`, `#2/`…) that expand like groups, so that the layout engine
/// only ever places a bounded number of nodes.
public struct StudioGraphView: Sendable, Hashable {
    /// The most nodes one layout places.
    public static let maximumNodes = 400

    /// The visible node of each step (a step's own name, or its group's key ending in `/`).
    public private(set) var nodeOfStep: [String]
    /// Visible nodes in plan order.
    public private(set) var nodes: [String]
    /// Edges between visible nodes, `[from, to]` indices into ``nodes``, without duplicates or self loops.
    public private(set) var edges: [[Int]]
    /// How many steps each visible node stands for.
    public private(set) var sizes: [Int]
    /// The index in ``nodes`` of each step's node.
    public private(set) var stepNodes: [Int]

    /// The group key of `step` (`node/` for `node/child`), or nil for a step outside any group.
    public static func group(of step: String) -> String? {
        guard let slash = step.firstIndex(of: "/") else { return nil }
        return String(step[...slash])
    }

    /// The view of `graph` with the groups in `expanded` open (keys ending in `/`, as ``group(of:)``).
    /// With `expanded` nil, every group is open when the whole graph fits ``maximumNodes``, else none.
    public init(graph: RunGraph, expanded: Set<String>?) {
        let groups = graph.steps.map(Self.group(of:))
        let open = expanded ?? (graph.steps.count <= Self.maximumNodes ? Set(groups.compactMap { $0 }) : [])
        var nodeOfStep = graph.steps.indices.map { index in
            groups[index].map { open.contains($0) ? graph.steps[index] : $0 } ?? graph.steps[index]
        }
        // Bundle top-level items when there are still too many; expanded blocks stay open.
        var topLevel: [String] = []
        var seen = Set<String>()
        for node in nodeOfStep where seen.insert(node).inserted { topLevel.append(node) }
        if topLevel.count > Self.maximumNodes {
            let blocks = Self.maximumNodes / 4
            let blockSize = (topLevel.count + blocks - 1) / blocks
            var blockOf: [String: String] = [:]
            for (position, item) in topLevel.enumerated() { blockOf[item] = "#\(position / blockSize + 1)/" }
            nodeOfStep = nodeOfStep.map { node in
                let block = blockOf[node] ?? node
                return open.contains(block) ? node : block
            }
        }
        var nodes: [String] = []
        var position: [String: Int] = [:]
        var sizes: [Int] = []
        var stepNodes: [Int] = []
        for node in nodeOfStep {
            if let existing = position[node] {
                sizes[existing] += 1
                stepNodes.append(existing)
            } else {
                position[node] = nodes.count
                stepNodes.append(nodes.count)
                nodes.append(node)
                sizes.append(1)
            }
        }
        var edgeSet = Set<[Int]>()
        var edges: [[Int]] = []
        for edge in graph.edges where edge.count == 2 {
            guard let from = position[nodeOfStep[edge[0]]], let to = position[nodeOfStep[edge[1]]], from != to else { continue }
            if edgeSet.insert([from, to]).inserted { edges.append([from, to]) }
        }
        self.nodeOfStep = nodeOfStep
        self.nodes = nodes
        self.edges = edges
        self.sizes = sizes
        self.stepNodes = stepNodes
    }

    /// The graph in Graphviz's dot language: nodes named `n0`, `n1`… (never the step names, so no
    /// name needs quoting), fixed-size boxes, top to bottom.
    public var dotSource: String {
        var text = "digraph conduit {\nrankdir=TB;\nnodesep=0.25;\nranksep=0.45;\nnode [shape=box, fixedsize=true, width=2.2, height=0.5];\n"
        for index in nodes.indices { text += "n\(index);\n" }
        for edge in edges { text += "n\(edge[0]) -> n\(edge[1]);\n" }
        return text + "}\n"
    }
}
