import Foundation

/// Reads pipeline and component files into `PipelineSpec`/`NodeSpec`/`ComponentSpec` values,
/// refusing malformed structure and collecting warnings for keys it ignores.
struct SpecReader {
    /// Non-fatal findings, each `file:line:column: field: message`.
    var warnings: [String] = []
    /// Component files already read, by absolute path.
    private var components: [String: ComponentSpec] = [:]
    /// Pipeline component files being read, to refuse a component that includes itself.
    private var pipelineFilesInProgress: [String] = []
    /// What named environments resolve to (see `readEnvironment`).
    var environments = EnvironmentsFile()
    /// Named environments already warned about as unmapped.
    var warnedEnvironments: Set<String> = []
    /// Environments-file entries mapping a used environment to an interpreter, each once, in the
    /// order first used: the loader looks at those interpreters (`Options.inspectInterpreter`).
    var usedInterpreterEntries: [EnvironmentsFile.Entry] = []
    /// Where `azureml:` component and data references resolve.
    var assets = AssetResolver()
    /// The seed of a random or bayesian sweep whose file sets none.
    var sweepSeed = UInt64.random(in: 0...UInt64(Int32.max))

    /// Keys of a pipeline job, beyond which a warning is given.
    static let pipelineJobKeys: Set<String> = [
        "$schema", "type", "name", "display_name", "experiment_name", "description", "tags", "properties",
        "settings", "inputs", "outputs", "jobs", "compute", "identity", "services", "id", "status",
        "creation_context", "log_files", "component",
    ]
    /// Keys of `settings:` Conduit knows (Azure accepts any other and passes it on).
    static let settingsKeys: Set<String> = [
        "default_compute", "default_datastore", "continue_on_step_failure", "force_rerun", "on_init", "on_finalize",
    ]
    /// Keys of a command node.
    static let commandNodeKeys: Set<String> = [
        "type", "component", "command", "code", "environment", "inputs", "outputs", "compute", "limits", "resources",
        "distribution", "environment_variables", "services", "identity", "queue_settings", "display_name",
        "description", "tags", "properties", "comment", "name", "experiment_name", "is_deterministic", "$schema",
        "retry",
    ]
    /// Keys of a pipeline node.
    static let pipelineNodeKeys: Set<String> = [
        "type", "component", "inputs", "outputs", "compute", "display_name", "description", "tags", "properties",
        "comment", "name", "experiment_name", "settings",
    ]
    /// Node types Azure ML accepts but Conduit does not run yet.
    static let unsupportedNodeTypes: Set<String> = [
        "parallel", "spark", "automl", "import", "data_transfer", "do_while", "if_else", "parallel_for",
    ]

    init() {}

    /// Why a node of an unsupported type cannot run, and what to do instead.
    static func unsupportedNodeMessage(_ type: String) -> String {
        let what: String
        switch type {
        case "parallel":
            what = "parallel steps (mini-batch processing with an entry script) are not supported yet; call the entry script from a command step"
        case "spark":
            what = "spark steps need a Spark cluster, which Conduit does not run; run the job with spark-submit from a command step"
        case "automl":
            what = "automl steps are Azure ML's cloud service and cannot run locally; train the model in a command step instead"
        case "import", "data_transfer":
            what = "\(type) steps move data between Azure services and are not supported; read the data from a local path or a datastore (azureml://datastores/NAME/paths/...)"
        default:
            what = "\(type) nodes (control flow, an Azure ML private preview) are not supported"
        }
        return "steps of type '\(type)' cannot run: " + what + "; Conduit runs command steps and pipeline components"
    }

    // MARK: Schedules

    /// The refusal of a schedule file: one whose `$schema` is Azure ML's schedule schema, or with a
    /// top-level `trigger:`. nil for any other file.
    static func scheduleRefusal(_ entries: [(key: String, value: SourceNode)], in root: SourceNode) -> SpecError? {
        let schema = entries["$schema"]?.node.scalar?.string
        let trigger = entries["trigger"]
        guard trigger != nil || schema?.lowercased().hasSuffix("schedule.schema.json") == true else { return nil }
        var message = "this is a schedule file (\(trigger != nil ? "it has trigger:" : "its $schema is a schedule's")), not a pipeline job, "
            + "so conduit run, submit and validate cannot run it: schedules are not supported yet (conduit schedule create is coming)"
        if let path = entries["create_job"]?.node.scalar?.string, !path.isEmpty {
            message += "; to run its job once now, run the file create_job: names (\(path)) with conduit run"
        } else {
            message += "; to run its job once now, give its create_job: to conduit run as a pipeline file"
        }
        return (trigger ?? root).error(.scheduleFile, message)
    }

    // MARK: Pipeline job

    /// Reads the pipeline job in `file` (absolute path), or in `text` as if it were that file's content.
    /// `overrides` (`--set KEY=VALUE`) change the document before it is read; see `OverrideApplier`.
    mutating func readPipelineJob(file: String, text: String? = nil, overrides: [String] = []) throws -> PipelineSpec {
        let document: SourceNode?
        if let text {
            document = try YAMLDocument.parse(text, file: file)
        } else {
            document = try YAMLDocument.load(file: file)
        }
        guard var root = document else {
            throw SpecError(.notAPipeline, file: file, message: "the file is empty; expected a pipeline job with type: pipeline")
        }
        if !overrides.isEmpty {
            try OverrideApplier.apply(overrides, to: &root.node, file: file)
        }
        guard root.isMapping else {
            throw root.error(
                .notAPipeline, "expected a pipeline job (a mapping with type: pipeline), found \(root.shapeName)"
            )
        }
        let entries = try root.entries()
        if let refusal = Self.scheduleRefusal(entries, in: root) { throw refusal }
        guard let typeNode = entries["type"] else {
            throw root.error(.notAPipeline, "missing type: pipeline; this file is not a pipeline job")
        }
        let type = try typeNode.string()
        guard type == "pipeline" else {
            throw typeNode.error(
                .notAPipeline, "type is '\(type)', but only pipeline jobs (type: pipeline) can be run"
            )
        }
        warnUnknownKeys(entries, known: Self.pipelineJobKeys, in: root, ignored: IgnoredKeys.pipelineJob)
        if entries["component"] != nil, let jobs = entries["jobs"] {
            throw jobs.error(.unknownField, "'jobs' and 'component' are mutually exclusive fields in pipeline job; keep one")
        }
        let directory = PathResolver.directory(of: file)
        var spec = PipelineSpec(
            file: file, displayName: try entries["display_name"].map { try $0.string() },
            experimentName: try entries["experiment_name"].map { try $0.string() },
            settings: try readSettings(entries["settings"]),
            compute: try entries["compute"].flatMap { $0.isNull ? nil : try $0.string() },
            inputValues: [], inputDeclarations: [], outputs: [], nodes: [], location: root
        )
        if let inputs = entries["inputs"] {
            spec.inputValues = try inputs.entriesOrEmpty().map { entry in
                try Self.checkName(entry.key, of: .input, at: entry.value)
                return NamedInput(
                    name: entry.key, value: try readInputValue(entry.value, baseDirectory: directory),
                    location: entry.value
                )
            }
        }
        if let outputs = entries["outputs"] {
            spec.outputs = try outputs.entriesOrEmpty().map { entry in
                try readOutputDeclaration(name: entry.key, entry.value, requireType: false, registers: true)
            }
        }
        if let reference = entries["component"] {
            try readComponentJob(reference, into: &spec, baseDirectory: directory)
        } else {
            spec.nodes = try readJobs(entries["jobs"], in: root, baseDirectory: directory)
        }
        return spec
    }

    /// A job made of a pipeline component (top-level `component:`): the component's steps run as
    /// the job's own, its inputs take the job's `inputs:` values, and the job's `outputs:` may
    /// change the type, mode or path of the component's outputs.
    private mutating func readComponentJob(_ reference: SourceNode, into spec: inout PipelineSpec, baseDirectory: String) throws {
        let component = try readPipelineComponent(reference, baseDirectory: baseDirectory)
        for output in spec.outputs where !component.outputs.contains(where: { $0.name == output.name }) {
            let known = component.outputs.map(\.name)
            throw output.location.error(
                .undeclaredReference,
                "the pipeline component has no output '\(output.name)' (outputs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            )
        }
        spec.outputs = component.outputs.map { declared in
            guard let given = spec.outputs.first(where: { $0.name == declared.name }) else { return declared }
            var merged = declared
            merged.type = given.type ?? declared.type
            merged.mode = given.mode ?? declared.mode
            merged.path = given.path ?? declared.path
            merged.asset = given.asset
            merged.location = given.location
            return merged
        }
        spec.inputDeclarations = component.inputDeclarations
        spec.nodes = component.nodes
        spec.isComponentJob = true
        if spec.displayName == nil { spec.displayName = component.displayName }
    }

    private mutating func readSettings(_ node: SourceNode?) throws -> PipelineSettings {
        var settings = PipelineSettings()
        guard let node, !node.isNull else { return settings }
        let entries = try node.entries()
        warnUnknownKeys(entries, known: Self.settingsKeys, in: node, note: "passed on unchanged, as Azure ML does", ignored: IgnoredKeys.settings)
        if let value = entries["default_compute"], !value.isNull {
            settings.defaultCompute = try value.string()
        }
        if let value = entries["continue_on_step_failure"], !value.isNull {
            settings.continueOnStepFailure = try value.bool()
        }
        if let value = entries["default_datastore"], !value.isNull {
            let text = try value.string()
            let name = text.hasPrefix("azureml:") ? String(text.dropFirst("azureml:".count)) : text
            guard !name.isEmpty, !name.contains("/") else {
                throw value.error(.invalidType, "default_datastore must name a datastore (azureml:NAME), found '\(text)'")
            }
            settings.defaultDatastore = name
        }
        if let value = entries["force_rerun"], !value.isNull {
            settings.forceRerun = try value.bool()
        }
        return settings
    }

    /// Reads `jobs:`: at least one node, each with a usable name.
    mutating func readJobs(_ node: SourceNode?, in root: SourceNode, baseDirectory: String) throws -> [NodeSpec] {
        guard let node else {
            throw root.error(.missingField, "a pipeline needs jobs: with at least one step")
        }
        let entries = try node.entriesOrEmpty()
        guard !entries.isEmpty else {
            throw node.error(.missingField, "a pipeline needs at least one step under jobs:")
        }
        var nodes: [NodeSpec] = []
        for entry in entries {
            try Self.checkStepName(entry.key, at: entry.value)
            nodes.append(try readNode(name: entry.key, entry.value, baseDirectory: baseDirectory))
        }
        return nodes
    }

    // MARK: Nodes

    /// Reads one node under `jobs:`.
    mutating func readNode(name: String, _ node: SourceNode, baseDirectory: String) throws -> NodeSpec {
        guard node.isMapping else {
            throw node.error(.invalidType, "a step must be a mapping with command: or component:, found \(node.shapeName)")
        }
        let entries = try node.entries()
        let type = try entries["type"].map { try $0.string() }
        if let type, Self.unsupportedNodeTypes.contains(type) {
            throw entries["type"]!.error(.notSupported, Self.unsupportedNodeMessage(type))
        }
        if let type, type != "command", type != "pipeline", type != "sweep" {
            throw entries["type"]!.error(
                .invalidEnum,
                "unknown step type '\(type)'; expected one of: command, pipeline, sweep, parallel, spark, automl, import, data_transfer"
            )
        }
        var spec = NodeSpec(
            name: name, kind: .command(Self.placeholderComponent(node)), inputs: [], outputs: [], compute: nil,
            computeLocation: nil, timeoutSeconds: nil, environmentVariables: [:],
            displayName: try entries["display_name"].map { try $0.string() }, location: node
        )
        if type == "pipeline" {
            warnUnknownKeys(entries, known: Self.pipelineNodeKeys, in: node, ignored: IgnoredKeys.pipelineNode)
            guard let reference = entries["component"] else {
                throw node.error(.missingField, "a pipeline step needs component: naming a pipeline component file")
            }
            spec.kind = .pipeline(try readPipelineComponent(reference, baseDirectory: baseDirectory))
        } else if type == "sweep" {
            let (trial, sweep) = try readSweep(entries, node: node, baseDirectory: baseDirectory, seed: sweepSeed)
            if case .random(let seed, false) = sweep.sampling {
                let location = SourceNode(entries["sampling_algorithm"]?.node ?? node.node, file: node.file, field: node.childField("sampling_algorithm"))
                warnings.append(location.warning(
                    "random sampling without a seed: this load samples with seed \(seed); set sampling_algorithm: {type: random, seed: \(seed)} to draw the same trials again and reuse them"
                ))
            }
            spec.kind = .sweep(trial, sweep)
        } else {
            warnUnknownKeys(entries, known: Self.commandNodeKeys, in: node, ignored: IgnoredKeys.commandNode)
            spec.kind = .command(try readCommandOfNode(entries, node: node, baseDirectory: baseDirectory))
        }
        if let inputs = entries["inputs"] {
            spec.inputs = try inputs.entriesOrEmpty().map { entry in
                try Self.checkName(entry.key, of: .input, at: entry.value)
                return NamedInput(
                    name: entry.key, value: try readInputValue(entry.value, baseDirectory: baseDirectory),
                    location: entry.value
                )
            }
        }
        if let outputs = entries["outputs"] {
            spec.outputs = try outputs.entriesOrEmpty().map { entry in try readNodeOutput(name: entry.key, entry.value) }
        }
        if let compute = entries["compute"], !compute.isNull {
            let text = try compute.string()
            switch BindingExpression.match(text) {
            case .none: spec.compute = .literal(.string(text))
            case .binding(let binding): spec.compute = .binding(binding)
            case .invalid(let message): throw compute.error(.invalidBinding, message)
            }
            spec.computeLocation = compute
        }
        if type != "sweep", let limits = entries["limits"], !limits.isNull {  // a sweep reads its own (readSweep)
            let limitEntries = try limits.entries()
            warnUnknownKeys(
                limitEntries, known: ["timeout", "max_total_trials", "max_concurrent_trials", "trial_timeout"], in: limits,
                ignored: IgnoredKeys.commandLimits
            )
            if let timeout = limitEntries["timeout"], !timeout.isNull {
                let seconds = try timeout.integer()
                guard seconds > 0 else {
                    throw timeout.error(.outOfRange, "timeout must be a positive number of seconds, found \(seconds)")
                }
                spec.timeoutSeconds = seconds
            }
        }
        if let retry = entries["retry"], !retry.isNull {
            spec.retry = try Self.readRetry(retry)
        }
        if let resources = entries["resources"] {
            spec.resources = try readResources(resources)
        }
        if let variables = entries["environment_variables"], !variables.isNull {
            for entry in try variables.entries() {
                spec.environmentVariables[entry.key] = entry.value.isNull ? "" : try entry.value.string()
            }
        }
        return spec
    }

    /// `retry: {attempts: N, backoff: SECONDS, backoff_factor: F}` on a command step (a Conduit
    /// extension; Azure ML ignores unknown keys of this kind only with a warning).
    static func readRetry(_ node: SourceNode) throws(SpecError) -> RetrySettings {
        let entries = try node.entries()
        for entry in entries where !["attempts", "backoff", "backoff_factor"].contains(entry.key) {
            throw entry.value.error(.unknownField, "unknown key '\(entry.key)' in retry; expected attempts, backoff (seconds) or backoff_factor")
        }
        guard let attemptsNode = entries["attempts"] else {
            throw node.error(.missingField, "retry needs attempts: the number of tries in all, the first included (e.g. attempts: 3)")
        }
        let attempts = try attemptsNode.integer()
        guard (1...100).contains(attempts) else {
            throw attemptsNode.error(.outOfRange, "retry.attempts must be between 1 and 100, found \(attempts)")
        }
        func seconds(_ key: String, minimum: Double, maximum: Double, fallback: Double) throws(SpecError) -> Double {
            guard let value = entries[key], !value.isNull else { return fallback }
            let number: Double
            switch try value.literal() {
            case .int(let whole): number = Double(whole)
            case .float(let fraction): number = fraction
            case let other: throw value.error(.invalidType, "retry.\(key) must be a number, found \(other.quoted)")
            }
            guard number.isFinite, number >= minimum, number <= maximum else {
                throw value.error(.outOfRange, "retry.\(key) must be between \(Int(minimum)) and \(Int(maximum)), found \(number)")
            }
            return number
        }
        let backoff = try seconds("backoff", minimum: 0, maximum: 86_400, fallback: 10)
        let factor = try seconds("backoff_factor", minimum: 1, maximum: 10, fallback: 2)
        return RetrySettings(attempts: attempts, backoffMilliseconds: Int64(backoff * 1000), factor: factor)
    }

    /// The component a command node runs: its `component:` (file or inline dict), or the node itself
    /// for an inline command job, with node-level `command`/`code`/`environment` as overrides.
    private mutating func readCommandOfNode(
        _ entries: [(key: String, value: SourceNode)], node: SourceNode, baseDirectory: String
    ) throws -> ComponentSpec {
        guard let reference = entries["component"] else {
            if let flag = entries["is_deterministic"] {
                throw flag.error(
                    .unknownField,
                    "Unknown field: is_deterministic is not allowed on an inline command job (Azure ML refuses it too); put it in a component"
                )
            }
            guard let command = entries["command"], !command.isNull else {
                throw node.error(.missingCommand, "a command step needs command: (or component:)")
            }
            var inline = ComponentSpec(
                file: node.file, displayName: nil, inputs: [], outputs: [],
                command: try command.string(expecting: "a command"), commandLocation: command,
                codeDirectory: try readCode(entries["code"], baseDirectory: baseDirectory),
                environment: try entries["environment"].map { $0.isNull ? "" : try CanonicalJSON.encode($0) } ?? "",
                isDeterministic: true, declaresInputsByValue: true
            )
            inline.environmentSetup = try readEnvironment(entries["environment"], baseDirectory: baseDirectory)
            return inline
        }
        var component = try readCommandComponent(reference, baseDirectory: baseDirectory)
        if let command = entries["command"], !command.isNull {
            component.command = try command.string(expecting: "a command")
            component.commandLocation = command
        }
        if let code = entries["code"], !code.isNull {
            component.codeDirectory = try readCode(code, baseDirectory: baseDirectory)
        }
        if let environment = entries["environment"], !environment.isNull {
            component.environment = try CanonicalJSON.encode(environment)
            component.environmentSetup = try readEnvironment(environment, baseDirectory: baseDirectory)
        }
        return component
    }

    /// `code:` as an absolute directory; remote code is refused.
    func readCode(_ node: SourceNode?, baseDirectory: String) throws(SpecError) -> String? {
        guard let node, !node.isNull else { return nil }
        let text = try node.string(expecting: "a directory")
        if PathResolver.isRemote(text) || text.lowercased().hasPrefix("git+") {
            throw node.error(.notSupported, "code: '\(text)' is remote; Conduit needs a local directory")
        }
        let path = PathResolver.absolute(PathResolver.strippingFileScheme(text), relativeTo: baseDirectory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw node.error(.fileNotFound, "the code directory '\(text)' does not exist (looked for \(path))")
        }
        guard isDirectory.boolValue else {
            throw node.error(.invalidType, "code: '\(text)' must be a directory (found a file at \(path))")
        }
        return path
    }

    // MARK: Warnings

    /// Adds a warning for each key of `entries` not in `known`, and for each key in `ignored` (one
    /// of `IgnoredKeys`' tables: a key Azure ML reads and Conduit ignores → why).
    mutating func warnUnknownKeys(
        _ entries: [(key: String, value: SourceNode)], known: Set<String>, in node: SourceNode,
        note: String = "ignored", ignored: [String: String] = [:]
    ) {
        for entry in entries {
            let message: String
            if let why = ignored[entry.key] {
                message = "'\(entry.key)' is ignored by Conduit: \(why)"
            } else if !known.contains(entry.key) {
                message = "unknown key '\(entry.key)' (\(note))"
            } else {
                continue
            }
            let location = SourceNode(entry.value.node, file: node.file, field: node.childField(entry.key))
            warnings.append(location.warning(message))
        }
    }

    /// A stand-in replaced before `readNode` returns.
    private static func placeholderComponent(_ node: SourceNode) -> ComponentSpec {
        ComponentSpec(
            file: node.file, displayName: nil, inputs: [], outputs: [], command: "", commandLocation: node,
            codeDirectory: nil, environment: "", isDeterministic: true, declaresInputsByValue: true
        )
    }

    // MARK: Component cache

    /// Reads (once) the component file at `path`.
    mutating func cachedComponent(at path: String, read: (inout SpecReader) throws -> ComponentSpec) throws -> ComponentSpec {
        if let cached = components[path] { return cached }
        let component = try read(&self)
        components[path] = component
        return component
    }

    /// Runs `body` while `path` is being read, refusing a pipeline component that includes itself.
    mutating func whileReadingPipeline<T>(
        _ path: String, at location: SourceNode, _ body: (inout SpecReader) throws -> T
    ) throws -> T {
        if pipelineFilesInProgress.contains(path) {
            let chain = (pipelineFilesInProgress + [path]).joined(separator: " -> ")
            throw location.error(.cycle, "pipeline components include each other in a cycle: \(chain)")
        }
        guard pipelineFilesInProgress.count < 16 else {
            throw location.error(.tooLarge, "pipeline components are nested more than 16 levels deep")
        }
        pipelineFilesInProgress.append(path)
        defer { pipelineFilesInProgress.removeLast() }
        return try body(&self)
    }
}
