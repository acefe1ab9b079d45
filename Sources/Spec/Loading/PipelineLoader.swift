import Foundation

/// Loads an Azure ML CLI v2 pipeline job YAML file into a validated, flattened `PipelinePlan`.
///
/// The file is parsed safely (size, depth and alias limits; duplicate and complex keys refused),
/// scalars are typed by YAML 1.1 rules as Azure's PyYAML does, components are read from their files,
/// bindings are followed, parameters are checked against their declarations, commands are compiled
/// into `CommandTemplate`s and steps are put in dependency order. Pipeline components used as steps
/// are expanded into their leaf steps, named `node/child`.
public enum PipelineLoader {
    /// What a load takes besides the file: overrides and where named things resolve.
    public struct Options: Sendable {
        /// az-ml style `--set KEY=VALUE` strings; `VALUE` is read as YAML text, like a value in the file.
        public var overrides: [String]
        /// The environments file (absolute path) that maps named environments, or nil for none: every
        /// named environment then runs with the worker's `python3`, with a warning. See `EnvironmentsFile`.
        public var environmentsFile: String?
        /// The registry `azureml:` component and data references resolve in; nil: component references
        /// are refused and data references pass through as URIs.
        public var registry: LocalRegistry?
        /// The data assets runs registered, as the coordinator reported them: a data reference the
        /// registry lacks must name one of them (else it is refused at its line). Nil: such references
        /// are left to the coordinator unchecked.
        public var producedData: RegistryIndex?
        /// Looks at an interpreter the environments file maps a used environment to: whether it runs
        /// here, and which of the given distributions (its `conda_file:`'s) it lacks. Each finding
        /// becomes a warning at the mapping's line. Nil: interpreters are not looked at (the loader
        /// itself runs nothing).
        public var inspectInterpreter: (@Sendable (_ interpreter: String, _ distributions: [String]) -> InterpreterInspection)?

        public init(
            overrides: [String] = [], environmentsFile: String? = nil, registry: LocalRegistry? = nil, producedData: RegistryIndex? = nil,
            inspectInterpreter: (@Sendable (_ interpreter: String, _ distributions: [String]) -> InterpreterInspection)? = nil
        ) {
            self.overrides = overrides
            self.environmentsFile = environmentsFile
            self.registry = registry
            self.producedData = producedData
            self.inspectInterpreter = inspectInterpreter
        }
    }

    /// Loads `file` and applies `overrides`.
    ///
    /// - Parameters:
    ///   - file: Path of the pipeline YAML (relative paths are resolved against the current directory).
    ///   - overrides: az-ml style `KEY=VALUE` strings from `--set` (`inputs.NAME`, `settings.NAME`,
    ///     `jobs.STEP.FIELD...`); `VALUE` is read as YAML text, like a value in the file; see `OverrideApplier`.
    /// - Returns: The plan; non-fatal findings (ignored keys and the like) are in `warnings`.
    /// - Throws: `SpecError`, for the first problem found, naming the file, line, field and what was expected.
    public static func load(file: String, overrides: [String] = []) throws(SpecError) -> PipelinePlan {
        try load(file: file, options: Options(overrides: overrides))
    }

    /// Loads `file` with `options` (overrides, and where named assets and environments resolve).
    /// - Throws: `SpecError`, for the first problem found, naming the file, line, field and what was expected.
    public static func load(file: String, options: Options) throws(SpecError) -> PipelinePlan {
        let path = PathResolver.absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            return try loadResolved(path, options: options)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
    }

    /// Loads a pipeline given as `text`, as if it were the content of `file` (an absolute path: errors name
    /// it, and relative component and data paths resolve against its directory).
    ///
    /// The same checks as ``load(file:overrides:)`` apply, the 4 MiB size limit included. Used by the
    /// pipeline fuzzer and by clients that hold a pipeline in memory.
    /// - Throws: `SpecError`, never anything else.
    public static func load(text: String, file: String, overrides: [String] = []) throws(SpecError) -> PipelinePlan {
        try load(text: text, file: file, options: Options(overrides: overrides))
    }

    /// Loads a pipeline given as `text` with `options`; see ``load(text:file:overrides:)``.
    public static func load(text: String, file: String, options: Options) throws(SpecError) -> PipelinePlan {
        let path = PathResolver.absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            return try loadResolved(path, text: text, options: options)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
    }

    /// The warning for an interpreter mapping that does not run here or lacks what its conda file
    /// lists; nil when it is fine.
    static func interpreterWarning(
        _ entry: EnvironmentsFile.Entry, inspect: (_ interpreter: String, _ distributions: [String]) -> InterpreterInspection
    ) -> String? {
        guard let interpreter = entry.environment.python else { return nil }
        let prefix = "\(entry.location): environment '\(entry.key)' maps to the interpreter \(interpreter)"
        switch inspect(interpreter, entry.expectedDistributions) {
        case .unavailable(let reason):
            return "\(prefix), which \(reason) on this machine; steps that use it fail on a worker where that is so too (fix the path in the environments file)"
        case .missing(let names) where !names.isEmpty:
            let list = names.joined(separator: ", ")
            return "\(prefix), which cannot import \(list) (listed in \(entry.condaFile ?? "its conda file")); "
                + "install \(names.count == 1 ? "it" : "them") into that interpreter (\(interpreter) -m pip install \(names.joined(separator: " "))) or map the environment to one that has \(names.count == 1 ? "it" : "them")"
        case .missing:
            return nil
        }
    }

    private static func loadResolved(_ path: String, text: String? = nil, options: Options) throws -> PipelinePlan {
        var reader = SpecReader()
        if let environmentsFile = options.environmentsFile {
            reader.environments = try EnvironmentsFile.load(
                file: PathResolver.absolute(environmentsFile, relativeTo: FileManager.default.currentDirectoryPath)
            )
            reader.warnings += reader.environments.warnings
        }
        reader.assets = AssetResolver(registry: options.registry, producedData: options.producedData)
        let spec = try reader.readPipelineJob(file: path, text: text, overrides: options.overrides)
        var builder = PlanBuilder()
        builder.assets = reader.assets
        let inputs = spec.isComponentJob ? try builder.componentJobInputs(spec) : try PlanBuilder.jobInputs(spec)
        let inputNames = spec.isComponentJob ? spec.inputDeclarations.map(\.name) : spec.inputValues.map(\.name)
        let scope = PlanBuilder.Scope(
            prefix: "", spec: spec, inputs: inputs, inputNames: inputNames,
            defaultCompute: spec.settings.defaultCompute ?? spec.compute
        )
        var expansion = try builder.expand(scope)
        var warnings = reader.warnings + builder.warnings
        if let inspect = options.inspectInterpreter {
            warnings += reader.usedInterpreterEntries.compactMap { Self.interpreterWarning($0, inspect: inspect) }
        }
        // A pipeline output's datastore path applies to the step output that fills it, unless
        // the step names its own.
        for declaration in spec.outputs {
            guard let path = declaration.path, let binding = expansion.outputBindings[declaration.name],
                  let stepIndex = expansion.steps.firstIndex(where: { $0.name == binding.step }),
                  let outputIndex = expansion.steps[stepIndex].outputs.firstIndex(where: { $0.name == binding.output })
            else { continue }
            if expansion.steps[stepIndex].outputs[outputIndex].path == nil {
                expansion.steps[stepIndex].outputs[outputIndex].path = path
            }
        }
        // A pipeline output's name: and version: register the step output that fills it.
        for declaration in spec.outputs {
            guard let asset = declaration.asset, let binding = expansion.outputBindings[declaration.name],
                  let stepIndex = expansion.steps.firstIndex(where: { $0.name == binding.step }),
                  let outputIndex = expansion.steps[stepIndex].outputs.firstIndex(where: { $0.name == binding.output })
            else { continue }
            if let own = expansion.steps[stepIndex].outputs[outputIndex].asset, own != asset {
                throw declaration.location.error(
                    .invalidBinding,
                    "pipeline output '\(declaration.name)' registers \(asset.description), but the step output it binds (\(binding.step).\(binding.output)) registers \(own.description); name the data asset in one place"
                )
            }
            expansion.steps[stepIndex].outputs[outputIndex].asset = asset
        }
        try Self.checkRegisteredVersions(expansion.steps, in: spec)
        for step in expansion.steps {
            for output in step.outputs {
                guard let asset = output.asset, try builder.assets.hasLocalData(named: asset.name, at: spec.location) else { continue }
                throw spec.location.error(
                    .invalidName,
                    "\(step.name).\(output.name) registers the data asset '\(asset.name)', a name the local registry already holds (conduit data create); runs register outputs on the coordinator, so azureml:\(asset.name)@latest would be ambiguous: choose another name"
                )
            }
        }
        var outputs: [PipelineOutputBinding] = []
        for declaration in spec.outputs {
            guard let binding = expansion.outputBindings[declaration.name] else {
                warnings.append(declaration.location.warning(
                    "pipeline output '\(declaration.name)' is not bound by any step (bind it with ${{parent.outputs.\(declaration.name)}})"
                ))
                continue
            }
            outputs.append(PipelineOutputBinding(
                name: declaration.name, type: declaration.type ?? binding.type, step: binding.step, output: binding.output
            ))
        }
        let fileName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return PipelinePlan(
            name: spec.displayName ?? fileName, sourceFile: path, experimentName: spec.experimentName,
            settings: spec.settings, steps: expansion.steps, outputs: outputs, warnings: warnings
        )
    }

    /// Refuses two outputs that would register the same data asset version: only one could be it.
    private static func checkRegisteredVersions(_ steps: [PlannedStep], in spec: PipelineSpec) throws(SpecError) {
        var seen: [String: String] = [:]
        for step in steps {
            for output in step.outputs {
                guard let asset = output.asset, let version = asset.version else { continue }
                let key = asset.name + ":" + version
                if let first = seen[key] {
                    throw spec.location.error(
                        .invalidBinding,
                        "\(first) and \(step.name).\(output.name) both register \(asset.description); a version holds one content: give one of them another version or none"
                    )
                }
                seen[key] = "\(step.name).\(output.name)"
            }
        }
    }
}
