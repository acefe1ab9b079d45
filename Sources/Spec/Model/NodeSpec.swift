/// One entry under `jobs:`, parsed but not yet resolved.
struct NodeSpec {
    /// What the node runs.
    enum Kind {
        /// A command step, from a component or inline.
        case command(ComponentSpec)
        /// A pipeline component used as a node.
        case pipeline(PipelineSpec)
        /// A sweep: the trial component and how its trials are chosen.
        case sweep(ComponentSpec, SweepDefinition)
    }

    /// The step name (the key under `jobs:`).
    var name: String
    var kind: Kind
    var inputs: [NamedInput]
    var outputs: [NodeOutput]
    /// `compute:` as written: text or a binding.
    var compute: InputValue?
    var computeLocation: SourceNode?
    /// `limits.timeout` in seconds.
    var timeoutSeconds: Int?
    /// `retry:` (a Conduit extension).
    var retry: RetrySettings? = nil
    /// `resources:` of the node (over its component's).
    var resources = StepResources()
    var environmentVariables: [String: String]
    /// `display_name` of the node.
    var displayName: String?
    /// The node's mapping.
    var location: SourceNode

    /// Names of sibling steps this node's bindings read.
    var referencedSteps: [(step: String, location: SourceNode)] {
        var result: [(String, SourceNode)] = []
        for input in inputs {
            switch input.value {
            case .binding(let binding):
                if let step = binding.step { result.append((step, input.location)) }
            case .data(_, _, .binding(let binding)?):
                if let step = binding.step { result.append((step, input.location)) }
            default:
                break
            }
        }
        if case .binding(let binding)? = compute, let step = binding.step, let computeLocation {
            result.append((step, computeLocation))
        }
        return result
    }
}
