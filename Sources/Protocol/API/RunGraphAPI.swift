/// A run's DAG as the studio draws it (`GET /v1/runs/{id}/graph`): its steps in plan order, the edges
/// between them, and where a layout engine placed each step.
public struct RunGraph: Codable, Hashable, Sendable {
    /// The run's id.
    public var run: String
    /// The pipeline's name.
    public var pipeline: String
    /// Step names in the plan's (topological) order; edges refer to them by index.
    public var steps: [String]
    /// `[from, to]` index pairs: `to` reads an output of `from`.
    public var edges: [[Int]]
    /// What is drawn: the visible nodes (steps and collapsed groups) and where they go; nil from the
    /// coordinator's query, set by the HTTP route.
    public var view: RunGraphView?

    /// A graph of `steps` and `edges`, not yet laid out.
    public init(run: String, pipeline: String, steps: [String], edges: [[Int]], view: RunGraphView? = nil) {
        self.run = run
        self.pipeline = pipeline
        self.steps = steps
        self.edges = edges
        self.view = view
    }
}

/// The nodes the studio draws for a run: steps, and pipeline components (groups, keys ending in `/`)
/// collapsed into one node each.
public struct RunGraphView: Codable, Hashable, Sendable {
    /// Visible node keys: a step's name, or a group's key (`node/`).
    public var nodes: [String]
    /// How many steps each node stands for.
    public var sizes: [Int]
    /// The index in ``nodes`` of each step's node, parallel to ``RunGraph/steps``.
    public var stepNodes: [Int]
    /// `[from, to]` indices into ``nodes``.
    public var edges: [[Int]]
    /// Where each node goes, or nil when no layout engine could place them (`note` says why).
    public var layout: GraphLayout?
    /// Why `layout` is missing: what to install or do.
    public var note: String?

    /// A view of `nodes` and `edges`, laid out by `layout`.
    public init(nodes: [String], sizes: [Int], stepNodes: [Int], edges: [[Int]], layout: GraphLayout?, note: String?) {
        self.nodes = nodes
        self.sizes = sizes
        self.stepNodes = stepNodes
        self.edges = edges
        self.layout = layout
        self.note = note
    }
}

/// Positions a layout engine computed for a ``RunGraph``, in points, origin at the top left.
public struct GraphLayout: Codable, Hashable, Sendable {
    /// The engine that made it, e.g. `graphviz dot`.
    public var engine: String
    /// The drawing's size.
    public var width: Double
    public var height: Double
    /// The centre of each node, `[x, y]`, parallel to ``RunGraphView/nodes``.
    public var positions: [[Double]]

    /// A layout of `positions` in a `width` × `height` drawing.
    public init(engine: String, width: Double, height: Double, positions: [[Double]]) {
        self.engine = engine
        self.width = width
        self.height = height
        self.positions = positions
    }
}
