/// Resolving a step's `environment:` to a `StepEnvironment` (see `docs/environments.md`).
extension SpecReader {
    /// Keys of an inline environment; others are ignored with a warning.
    static let inlineEnvironmentKeys: Set<String> = [
        "image", "conda_file", "build", "name", "version", "description", "tags", "os_type", "inference_config",
        "$schema", "properties",
    ]

    /// What `environment:` (a reference or an inline mapping) resolves to; nil when there is none.
    ///
    /// `baseDirectory` is the directory of the file that holds the node: a `conda_file:` path is
    /// relative to it.
    mutating func readEnvironment(_ node: SourceNode?, baseDirectory: String) throws(SpecError) -> StepEnvironment? {
        guard let node, !node.isNull else { return nil }
        guard node.isMapping else {
            let reference = try node.string(expecting: "an environment reference (azureml:NAME:VERSION) or an inline environment")
            guard !reference.isEmpty else {
                throw node.error(.invalidType, "expected an environment reference (azureml:NAME:VERSION) or an inline environment, found an empty string")
            }
            return namedEnvironment(reference, at: node)
        }
        let entries = try node.entries()
        if let build = entries["build"], !build.isNull {
            throw build.error(
                .notSupported,
                "environment build: (a Docker build context) is not supported; give conda_file: with the pip dependencies, or name the environment and map it in the environments file (docs/environments.md)"
            )
        }
        warnUnknownKeys(entries, known: Self.inlineEnvironmentKeys, in: node, ignored: IgnoredKeys.inlineEnvironment)
        guard let conda = entries["conda_file"], !conda.isNull else {
            // An image alone: Conduit runs no containers; the worker's python3 stands in for it.
            return StepEnvironment(reference: nil, kind: .workerPython)
        }
        let file = try EnvironmentsFile.readCondaFile(conda, relativeTo: baseDirectory)
        if !file.converted.isEmpty {
            warnings.append(conda.warning(EnvironmentsFile.convertedWarning(file.converted)))
        }
        return StepEnvironment(reference: nil, kind: .virtualEnvironment, python: file.python, requirements: file.requirements)
    }

    /// A named environment through the environments file; the worker's python3, with a warning
    /// (once per reference), when the file does not map it.
    private mutating func namedEnvironment(_ reference: String, at node: SourceNode) -> StepEnvironment {
        if let entry = environments.entry(for: reference) {
            if entry.environment.kind == .interpreter, !usedInterpreterEntries.contains(where: { $0.key == entry.key }) {
                usedInterpreterEntries.append(entry)
            }
            var environment = entry.environment
            environment.reference = reference
            return environment
        }
        if warnedEnvironments.insert(reference).inserted {
            let name = EnvironmentsFile.environmentName(reference) ?? reference
            let source = environments.file.map { "the environments file \($0) does not map it" } ?? "no environments file was found"
            warnings.append(node.warning(
                "environment '\(reference)' runs with the worker's python3: \(source). Map it with an entry such as '\(name): {requirements: [PACKAGE==VERSION]}' or '\(name): {python: /path/to/python}' in --environments FILE, $CONDUIT_ENVIRONMENTS or $CONDUIT_HOME/environments.yml"
            ))
        }
        return StepEnvironment(reference: reference, kind: .workerPython)
    }
}
