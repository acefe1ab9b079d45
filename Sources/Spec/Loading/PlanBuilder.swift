/// Resolves a parsed pipeline into leaf steps: follows bindings, applies component defaults and
/// checks, orders the steps, compiles commands and binds pipeline outputs. Pipeline components are
/// expanded in place, their steps named `node/child`.
struct PlanBuilder {
    /// Non-fatal findings, each `file:line:column: field: message`.
    var warnings: [String] = []
    /// Where `azureml:` data references given as plain strings resolve.
    var assets = AssetResolver()

    /// One pipeline level being expanded.
    struct Scope {
        /// Prefix of step names (`""`, or `fast/` inside the pipeline node `fast`).
        var prefix: String
        var spec: PipelineSpec
        /// The pipeline's inputs, resolved.
        var inputs: [String: ResolvedValue]
        /// Input names in declaration order, for messages.
        var inputNames: [String]
        /// Compute for steps that name none.
        var defaultCompute: String?
    }

    /// A leaf output that fills a pipeline output.
    struct OutputBinding {
        var step: String
        var output: String
        var type: DataType
    }

    /// The steps of one pipeline level and the leaf outputs bound to its outputs.
    struct Expansion {
        var steps: [PlannedStep] = []
        var outputBindings: [String: OutputBinding] = [:]
    }

    /// What siblings can read from a processed node.
    private struct NodeResult {
        var inputs: [String: ResolvedValue]
        var outputs: [String: DataReference]
        var outputNames: [String]
        var inputNames: [String]
    }

    init() {}

    /// The inputs of a pipeline job, as values.
    static func jobInputs(_ spec: PipelineSpec) throws(SpecError) -> [String: ResolvedValue] {
        var result: [String: ResolvedValue] = [:]
        for input in spec.inputValues {
            switch input.value {
            case .literal(.null), .declaredParameter, .data(_, _, nil):
                result[input.name] = .unset
            case .literal(let literal):
                result[input.name] = .parameter(literal)
            case .data(let type, let mode, .source(let source)?):
                result[input.name] = .data(DataReference(type: type, mode: mode, source: source))
            case .binding, .data(_, _, .binding?):
                throw input.location.error(
                    .invalidBinding, "inputs of a pipeline job must be values or data paths, not ${{...}} bindings"
                )
            }
        }
        return result
    }

    /// The inputs of a job that runs a pipeline component: the job's `inputs:` values checked
    /// against the component's declarations, defaults filled in.
    mutating func componentJobInputs(_ spec: PipelineSpec) throws -> [String: ResolvedValue] {
        let values = try Self.jobInputs(spec)
        var given: [String: (value: ResolvedValue, location: SourceNode)] = [:]
        for input in spec.inputValues {
            given[input.name] = (values[input.name] ?? .unset, input.location)
        }
        let job = NodeSpec(
            name: "", kind: .pipeline(spec), inputs: spec.inputValues, outputs: [], compute: nil, computeLocation: nil,
            timeoutSeconds: nil, environmentVariables: [:], displayName: nil, location: spec.location
        )
        let scope = Scope(prefix: "", spec: spec, inputs: [:], inputNames: [], defaultCompute: nil)
        return try bind(spec.inputDeclarations, given: given, node: job, in: scope).values
    }

    /// Expands one pipeline level.
    mutating func expand(_ scope: Scope) throws -> Expansion {
        let nodes = scope.spec.nodes
        var position: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { position[node.name] = index }
        var dependencies = Array(repeating: [Int](), count: nodes.count)
        for (index, node) in nodes.enumerated() {
            for reference in node.referencedSteps {
                guard let target = position[reference.step] else {
                    let known = nodes.map(\.name).joined(separator: ", ")
                    throw reference.location.error(
                        .unknownStep, "no step named '\(reference.step)' in this pipeline (steps: \(known))"
                    )
                }
                if target == index {
                    throw reference.location.error(
                        .cycle, "step '\(node.name)' reads its own output: a cycle \(node.name) -> \(node.name)"
                    )
                }
                dependencies[index].append(target)
            }
        }
        let order: [Int]
        switch StableTopologicalSort.sort(count: nodes.count, dependencies: dependencies) {
        case .ordered(let sorted):
            order = sorted
        case .cycle(let loop):
            let names = loop.map { nodes[$0].name }
            throw nodes[loop.first ?? 0].location.error(
                .cycle, "steps depend on each other in a cycle: \(names.joined(separator: " -> "))"
            )
        }

        // Steps whose default artifacts a sibling binds (`${{parent.jobs.S.outputs.artifacts}}`):
        // those collect them; no other step does, so other steps' cache keys stay as they were.
        var artifactsBound: Set<String> = []
        for node in nodes {
            for input in node.inputs {
                let binding: BindingExpression? = switch input.value {
                case .binding(let binding), .data(_, _, .binding(let binding)?): binding
                default: nil
                }
                if case .stepOutput(let step, StepDataOutput.defaultArtifactsName)? = binding { artifactsBound.insert(step) }
            }
        }

        var expansion = Expansion()
        var results: [String: NodeResult] = [:]
        for index in order {
            let node = nodes[index]
            var given: [String: (value: ResolvedValue, location: SourceNode)] = [:]
            for input in node.inputs {
                given[input.name] = (try resolve(input, in: scope, results: results), input.location)
            }
            let compute = try resolveCompute(node, in: scope, results: results) ?? scope.defaultCompute
            let result: NodeResult
            var leafOutputs: [String: OutputBinding] = [:]
            switch node.kind {
            case .command(let component):
                let step = try buildStep(
                    node, component: component, given: given, compute: compute, artifactsBound: artifactsBound.contains(node.name), in: scope
                )
                expansion.steps.append(step.planned)
                result = step.result
                for output in step.planned.outputs {
                    leafOutputs[output.name] = OutputBinding(step: step.planned.name, output: output.name, type: output.type)
                }
            case .pipeline(let child):
                let declared = try bind(
                    child.inputDeclarations, given: given, node: node, in: scope
                )
                let childScope = Scope(
                    prefix: scope.prefix + node.name + "/", spec: child, inputs: declared.values,
                    inputNames: child.inputDeclarations.map(\.name), defaultCompute: compute
                )
                let inner = try expand(childScope)
                expansion.steps += inner.steps
                var outputs: [String: DataReference] = [:]
                for declaration in child.outputs {
                    guard let binding = inner.outputBindings[declaration.name] else { continue }
                    leafOutputs[declaration.name] = binding
                    outputs[declaration.name] = DataReference(
                        type: binding.type, mode: nil, source: .stepOutput(step: binding.step, output: binding.output)
                    )
                }
                for output in node.outputs where !child.outputs.contains(where: { $0.name == output.name }) {
                    throw output.location.error(
                        .undeclaredReference,
                        "the pipeline component has no output '\(output.name)' (outputs: \(child.outputs.map(\.name).joined(separator: ", ")))"
                    )
                }
                result = NodeResult(
                    inputs: declared.values, outputs: outputs, outputNames: child.outputs.map(\.name),
                    inputNames: child.inputDeclarations.map(\.name)
                )
            case .sweep(let component, let sweep):
                let steps = try buildSweep(node, component: component, sweep: sweep, given: given, compute: compute, in: scope)
                expansion.steps += steps.trials
                expansion.steps.append(steps.sweep.planned)
                result = steps.sweep.result
                for output in steps.sweep.planned.outputs {
                    leafOutputs[output.name] = OutputBinding(step: steps.sweep.planned.name, output: output.name, type: output.type)
                }
            }
            results[node.name] = result
            for output in node.outputs {
                guard let name = output.pipelineOutput else { continue }
                guard let declaration = scope.spec.outputs.first(where: { $0.name == name }) else {
                    let known = scope.spec.outputs.map(\.name)
                    throw output.location.error(
                        .undeclaredReference,
                        "the pipeline has no output '\(name)' (outputs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
                    )
                }
                guard var leaf = leafOutputs[output.name] else {
                    throw output.location.error(
                        .undeclaredReference, "output '\(output.name)' of step '\(node.name)' is not produced by any step"
                    )
                }
                if let existing = expansion.outputBindings[name] {
                    throw output.location.error(
                        .invalidBinding,
                        "pipeline output '\(name)' is already bound to \(existing.step).\(existing.output); an output can be filled by one step only"
                    )
                }
                leaf.type = declaration.type ?? leaf.type
                expansion.outputBindings[name] = leaf
            }
        }
        return expansion
    }

    // MARK: Bindings

    /// Follows one binding in `scope`.
    private func resolve(
        _ binding: BindingExpression, at location: SourceNode, in scope: Scope, results: [String: NodeResult]
    ) throws(SpecError) -> ResolvedValue {
        switch binding {
        case .parentInput(let name):
            guard let value = scope.inputs[name] else {
                let known = scope.inputNames.isEmpty ? "none" : scope.inputNames.joined(separator: ", ")
                throw location.error(.undeclaredReference, "the pipeline has no input '\(name)' (inputs: \(known))")
            }
            return value
        case .parentOutput:
            throw location.error(.invalidBinding, "\(binding.text) can only bind a step's outputs, not an input")
        case .stepOutput(let step, let output):
            guard let result = results[step] else {
                throw location.error(.unknownStep, "no step named '\(step)' in this pipeline")
            }
            guard let value = result.outputs[output] else {
                let known = result.outputNames.isEmpty ? "none" : result.outputNames.joined(separator: ", ")
                throw location.error(
                    .undeclaredReference, "step '\(step)' has no output '\(output)' (outputs: \(known))"
                )
            }
            return .data(value)
        case .stepInput(let step, let input):
            guard let result = results[step] else {
                throw location.error(.unknownStep, "no step named '\(step)' in this pipeline")
            }
            guard let value = result.inputs[input] else {
                let known = result.inputNames.isEmpty ? "none" : result.inputNames.joined(separator: ", ")
                throw location.error(.undeclaredReference, "step '\(step)' has no input '\(input)' (inputs: \(known))")
            }
            return value
        }
    }

    /// The value of a node input as written.
    private func resolve(_ input: NamedInput, in scope: Scope, results: [String: NodeResult]) throws(SpecError) -> ResolvedValue {
        switch input.value {
        case .literal(.null), .declaredParameter, .data(_, _, nil):
            return .unset
        case .literal(let literal):
            return .parameter(literal)
        case .binding(let binding):
            return try resolve(binding, at: input.location, in: scope, results: results)
        case .data(let type, let mode, .source(let source)?):
            return .data(DataReference(type: type, mode: mode, source: source))
        case .data(let type, let mode, .binding(let binding)?):
            switch try resolve(binding, at: input.location, in: scope, results: results) {
            case .unset:
                return .unset
            case .data(var reference):
                reference.type = type ?? reference.type
                reference.mode = mode ?? reference.mode
                return .data(reference)
            case .parameter(let literal):
                throw input.location.error(
                    .invalidType, "path: \(binding.text) must refer to data, but it is the literal \(literal.quoted)"
                )
            }
        }
    }

    /// The node's `compute:`, following a binding; nil when it names none.
    private func resolveCompute(_ node: NodeSpec, in scope: Scope, results: [String: NodeResult]) throws(SpecError) -> String? {
        guard let compute = node.compute, let location = node.computeLocation else { return nil }
        switch compute {
        case .literal(let literal):
            return literal.pythonString
        case .binding(let binding):
            switch try resolve(binding, at: location, in: scope, results: results) {
            case .parameter(let literal): return literal.pythonString
            case .unset: return nil
            case .data: throw location.error(.invalidType, "compute: \(binding.text) refers to data, not a compute name")
            }
        case .data, .declaredParameter:
            return nil
        }
    }

    /// Final values of declared inputs: given values checked against the declarations, defaults filled in.
    private mutating func bind(
        _ declarations: [InputDeclaration], given: [String: (value: ResolvedValue, location: SourceNode)],
        node: NodeSpec, in scope: Scope
    ) throws(SpecError) -> (values: [String: ResolvedValue], locations: [String: SourceNode]) {
        var values: [String: ResolvedValue] = [:]
        var locations: [String: SourceNode] = [:]
        for input in node.inputs where !declarations.contains(where: { $0.name == input.name }) {
            let known = declarations.map(\.name).joined(separator: ", ")
            warnings.append(input.location.warning("the component has no input '\(input.name)' (inputs: \(known.isEmpty ? "none" : known)); ignored"))
        }
        for declaration in declarations {
            var value = given[declaration.name]?.value ?? .unset
            let location = given[declaration.name]?.location ?? node.location
            switch (declaration.kind, value) {
            case (.data(let type), .parameter(.string(let text))):
                let source = try assets.dataSource(
                    text, relativeTo: PathResolver.directory(of: location.file), at: location
                ).source
                value = .data(DataReference(type: type, mode: declaration.mode, source: source))
            case (.data(let type), .parameter(let literal)):
                throw location.error(
                    .invalidType,
                    "input '\(declaration.name)' is a data input (\(type.rawValue)) but was given the \(literal.kindName) \(literal.quoted)"
                )
            case (.parameter(let type), .data(let reference)):
                throw location.error(
                    .invalidType,
                    "input '\(declaration.name)' is a \(type.rawValue) parameter but is bound to data (\(Self.describe(reference.source)))"
                )
            case (.data(let type), .data(var reference)):
                reference.type = reference.type ?? type
                reference.mode = reference.mode ?? declaration.mode
                value = .data(reference)
            default:
                break
            }
            if case .unset = value {
                if let defaultValue = declaration.defaultValue {
                    value = .parameter(defaultValue)
                } else if let defaultData = declaration.defaultData {
                    value = .data(defaultData)
                } else if !declaration.isOptional {
                    throw location.error(
                        .missingInput,
                        node.name.isEmpty
                            ? "required input '\(declaration.name)' of the pipeline component has no value; give it one under inputs: of the job"
                            : "required input '\(declaration.name)' has no value; bind it under jobs.\(node.name).inputs or give it a default in the component"
                    )
                }
            }
            if case .parameter(let literal) = value, given[declaration.name] != nil {
                try declaration.validate(literal, at: location)
            }
            values[declaration.name] = value
            locations[declaration.name] = location
        }
        return (values, locations)
    }

    private static func describe(_ source: DataSource) -> String {
        switch source {
        case .stepOutput(let step, let output): return "output \(output) of step \(step)"
        case .localPath(let path): return path
        case .uri(let uri): return uri
        }
    }

    // MARK: Sweeps

    /// Builds a sweep node's trial steps (`NODE/trial_N`, one per sampled point) and its sweep step
    /// (`NODE`), which reads every trial's outputs and whose outputs are the best trial's.
    private mutating func buildSweep(
        _ node: NodeSpec, component: ComponentSpec, sweep: SweepDefinition,
        given: [String: (value: ResolvedValue, location: SourceNode)], compute: String?, in scope: Scope
    ) throws -> (trials: [PlannedStep], sweep: (planned: PlannedStep, result: NodeResult)) {
        for dimension in sweep.dimensions where given[dimension.name] != nil {
            throw dimension.location.error(
                .invalidBinding, "'\(dimension.name)' is both searched over and set under inputs:; keep one"
            )
        }
        var points = SweepSampler.points(sweep.dimensions, sampling: sweep.sampling, limit: sweep.limits.maxTotalTrials)
        var isBayesian = false
        if case .bayesian = sweep.sampling {
            // Points are proposed as trials become ready; each slot is compiled once here with a
            // representative point, so that a command that cannot work is refused now.
            isBayesian = true
            let representative = Dictionary(uniqueKeysWithValues: sweep.dimensions.map { ($0.name, SweepSampler.representative($0.distribution)) })
            points = Array(repeating: representative, count: sweep.limits.maxTotalTrials)
        }
        // Trials write no datastore path and register nothing: only the sweep step's outputs do.
        var trialNode = node
        trialNode.outputs = node.outputs.map { output in
            var plain = output
            plain.path = nil
            plain.asset = nil
            plain.pipelineOutput = nil
            return plain
        }
        trialNode.timeoutSeconds = sweep.limits.trialTimeoutSeconds
        var trials: [PlannedStep] = []
        var selection: [SweepTrial] = []
        let sweepName = scope.prefix + node.name
        for (index, point) in points.enumerated() {
            var values = given
            for dimension in sweep.dimensions {
                guard let value = point[dimension.name] else { continue }
                values[dimension.name] = (.parameter(value), dimension.location)
            }
            let name = sweepName + "/trial_\(index)"
            var trial = try buildStep(trialNode, component: component, given: values, compute: compute, in: scope, stepName: name).planned
            trial.trialOf = sweepName
            trial.displayName = "trial \(index) of \(node.name)"
            trials.append(trial)
            selection.append(SweepTrial(step: name, point: isBayesian ? [:] : point.mapValues(\.pythonString)))
        }
        // The sweep step's outputs: the trial's, with the node's datastore paths and asset names.
        var outputs: [StepDataOutput] = []
        var outputReferences: [String: DataReference] = [:]
        for output in trials.first?.outputs ?? [] {
            let written = node.outputs.first { $0.name == output.name }
            let declared = component.outputs.first { $0.name == output.name }
            outputs.append(StepDataOutput(name: output.name, type: output.type, path: written?.path ?? declared?.path, asset: written?.asset))
            outputReferences[output.name] = DataReference(type: output.type, mode: nil, source: .stepOutput(step: sweepName, output: output.name))
        }
        for index in trials.indices {
            for output in trials[index].outputs.indices {
                trials[index].outputs[output].path = nil
                trials[index].outputs[output].asset = nil
            }
        }
        var sweepInputs: [String: ResolvedValue] = given.mapValues(\.value)
        for dimension in sweep.dimensions { sweepInputs[dimension.name] = .unset }
        let result = NodeResult(
            inputs: sweepInputs, outputs: outputReferences, outputNames: outputs.map(\.name),
            inputNames: component.inputs.map(\.name)
        )
        var inputs: [StepDataInput] = []
        for trial in trials {
            for output in trial.outputs {
                inputs.append(StepDataInput(
                    name: SweepSelection.inputName(trial: trial.name, output: output.name), type: output.type,
                    source: .stepOutput(step: trial.name, output: output.name)
                ))
            }
        }
        var planned = PlannedStep(
            name: sweepName, displayName: node.displayName ?? "sweep \(node.name)", commandTemplate: "",
            command: CommandTemplate(segments: []), inputs: inputs, outputs: outputs, compute: compute
        )
        var shape: TrialCommandShape?
        if isBayesian {
            let dataInputs = Set(trials.first?.inputs.map(\.name) ?? [])
            shape = TrialCommandShape(
                inputs: component.inputs.map { .init(name: $0.name, isOptional: $0.isOptional, isData: dataInputs.contains($0.name)) },
                outputs: outputs.map(\.name), file: component.commandLocation.file, field: component.commandLocation.field
            )
        }
        planned.sweep = SweepSelection(
            objective: sweep.objective, sampling: sweep.sampling, limits: sweep.limits,
            earlyTermination: sweep.earlyTermination, trials: selection, space: sweep.dimensions.map(\.described),
            trialCommand: shape
        )
        return (trials, (planned, result))
    }

    // MARK: Steps

    /// Builds the leaf step of a command node (named `stepName`, else its path in the pipeline).
    /// `artifactsBound`: a sibling binds the step's `artifacts` output.
    private mutating func buildStep(
        _ node: NodeSpec, component: ComponentSpec, given: [String: (value: ResolvedValue, location: SourceNode)],
        compute: String?, artifactsBound: Bool = false, in scope: Scope, stepName explicitName: String? = nil
    ) throws -> (planned: PlannedStep, result: NodeResult) {
        let stepName = explicitName ?? scope.prefix + node.name
        var declarations: [InputDeclaration]
        var values: [String: ResolvedValue]
        if component.declaresInputsByValue {
            declarations = []
            values = [:]
            for input in node.inputs {
                let value = given[input.name]?.value ?? .unset
                let kind: InputDeclaration.Kind
                switch value {
                case .parameter(let literal): kind = .parameter(ParameterType(inferredFrom: literal))
                case .data(let reference): kind = .data(reference.type ?? .uriFolder)
                case .unset: kind = .parameter(.string)
                }
                declarations.append(InputDeclaration(
                    name: input.name, kind: kind, isOptional: false, defaultValue: nil, defaultData: nil, minimum: nil,
                    maximum: nil, choices: nil, mode: nil, location: input.location
                ))
                values[input.name] = value
            }
        } else {
            declarations = component.inputs
            values = try bind(declarations, given: given, node: node, in: scope).values
        }

        // Outputs: declared by the component, or by the node for inline jobs. An output named
        // `artifacts` that the command does not write (`${{outputs.artifacts}}`) is the step's default
        // artifacts: collected when a sibling binds it, or when the node or component lists it.
        let artifactsName = StepDataOutput.defaultArtifactsName
        let collectsArtifacts = !CommandCompiler.refersToOutput(artifactsName, in: component.command)
            && (artifactsBound || node.outputs.contains { $0.name == artifactsName } || component.outputs.contains { $0.name == artifactsName })
        if collectsArtifacts, let given = node.outputs.first(where: { $0.name == artifactsName }), let type = given.type, type.isFile {
            throw given.location.error(
                .invalidType,
                "output 'artifacts' is the step's default artifacts, the folder of what its command leaves in ./outputs and ./logs, "
                    + "so it cannot be a uri_file; remove the type, or write the file at ${{outputs.artifacts}} in the command"
            )
        }
        var outputs: [StepDataOutput] = []
        if component.declaresInputsByValue {
            for output in node.outputs {
                let pipelineType = output.pipelineOutput.flatMap { name in scope.spec.outputs.first { $0.name == name }?.type }
                outputs.append(StepDataOutput(
                    name: output.name, type: output.type ?? pipelineType ?? .uriFolder, path: output.path, asset: output.asset,
                    isDefaultArtifacts: collectsArtifacts && output.name == artifactsName
                ))
            }
        } else {
            for output in node.outputs where !component.outputs.contains(where: { $0.name == output.name }) {
                if collectsArtifacts && output.name == artifactsName { continue }
                let known = component.outputs.map(\.name)
                throw output.location.error(
                    .undeclaredReference,
                    "the component has no output '\(output.name)' (outputs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
                )
            }
            for declaration in component.outputs {
                let given = node.outputs.first { $0.name == declaration.name }
                let isDefaultArtifacts = collectsArtifacts && declaration.name == artifactsName
                outputs.append(StepDataOutput(
                    name: declaration.name, type: isDefaultArtifacts ? .uriFolder : given?.type ?? declaration.type ?? .uriFolder,
                    path: given?.path ?? declaration.path, asset: given?.asset, isDefaultArtifacts: isDefaultArtifacts
                ))
            }
        }
        if collectsArtifacts && !outputs.contains(where: { $0.name == artifactsName }) {
            let given = node.outputs.first { $0.name == artifactsName }
            outputs.append(StepDataOutput(name: artifactsName, type: .uriFolder, path: given?.path, asset: given?.asset, isDefaultArtifacts: true))
        }

        var compilerInputs: [String: CommandCompiler.Input] = [:]
        var parameters: [String: String] = [:]
        var dataInputs: [StepDataInput] = []
        for declaration in declarations {
            let state: CommandCompiler.Input.Value
            switch values[declaration.name] ?? .unset {
            case .parameter(let literal):
                parameters[declaration.name] = literal.pythonString
                state = .parameter(literal.pythonString)
            case .data(let reference):
                var type = reference.type ?? .uriFolder
                if case .data(let declared) = declaration.kind { type = reference.type ?? declared }
                dataInputs.append(StepDataInput(
                    name: declaration.name, type: type, mode: reference.mode ?? declaration.mode, source: reference.source
                ))
                state = .data
            case .unset:
                state = .unset
            }
            compilerInputs[declaration.name] = CommandCompiler.Input(isOptional: declaration.isOptional, value: state)
        }
        let template = try CommandCompiler.compile(
            component.command, inputs: compilerInputs, inputOrder: declarations.map(\.name),
            outputs: outputs.map(\.name), at: component.commandLocation
        )
        var warned: Set<String> = []
        for literal in CommandCompiler.literalSegments(in: component.command) where warned.insert(literal).inserted {
            let body = String(literal.dropFirst(3).dropLast(2))
            let name = body.hasPrefix("inputs.") && !body.contains(" ") ? String(body.dropFirst("inputs.".count)) : "NAME"
            warnings.append(component.commandLocation.warning(
                "\(literal) holds no ${{ }} reference, so it binds nothing: Conduit passes the text to the program as written, "
                    + "quoted (bash would read `$[` as arithmetic); to pass an optional input only when it has a value, write "
                    + "$[[--\(name) ${{inputs.\(name)}}]]"
            ))
        }
        var planned = PlannedStep(
            name: stepName, displayName: node.displayName ?? component.displayName,
            commandTemplate: component.command, command: template, parameters: parameters, inputs: dataInputs,
            outputs: outputs, codeDirectory: component.codeDirectory, environment: component.environment,
            compute: compute, timeoutSeconds: node.timeoutSeconds, isDeterministic: component.isDeterministic,
            environmentVariables: node.environmentVariables, retry: node.retry,
            resources: node.resources.over(component.resources), environmentSetup: component.environmentSetup
        )
        planned.component = component.registeredReference
        var outputReferences: [String: DataReference] = [:]
        for output in outputs {
            outputReferences[output.name] = DataReference(
                type: output.type, mode: nil, source: .stepOutput(step: stepName, output: output.name)
            )
        }
        let result = NodeResult(
            inputs: values, outputs: outputReferences, outputNames: outputs.map(\.name),
            inputNames: declarations.map(\.name)
        )
        return (planned, result)
    }
}
