/// Applies `--set` overrides (`inputs.NAME=VALUE`, `inputs.NAME.path=VALUE`) to a parsed pipeline job.
enum OverrideApplier {
    /// Applies one override to `spec`; `VALUE` is read as YAML text, like a value in the file.
    static func apply(_ override: String, to spec: inout PipelineSpec, reader: inout SpecReader) throws {
        let file = spec.file
        func failure(_ message: String, field: String? = nil) -> SpecError {
            SpecError(.invalidOverride, file: file, field: field.map { "--set \($0)" }, message: message)
        }
        guard let equals = override.firstIndex(of: "=") else {
            throw failure("'\(override)' is not KEY=VALUE; expected e.g. inputs.learning_rate=0.05")
        }
        let key = override[..<equals].trimmingCharacters(in: .whitespaces)
        let text = String(override[override.index(after: equals)...])
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
            throw failure("'\(key)' is not a field path; expected inputs.NAME", field: key)
        }
        guard parts[0] == "inputs" else {
            throw SpecError(
                .notSupported, file: file, field: "--set \(key)",
                message: "only inputs.NAME overrides are supported yet (settings.*, jobs.* and others are not)"
            )
        }
        let name = parts[1]
        guard let index = spec.inputValues.firstIndex(where: { $0.name == name }) else {
            let known = spec.inputValues.map(\.name)
            throw failure(
                "the pipeline has no input '\(name)' (inputs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
                field: key
            )
        }
        let attribute = parts.count > 2 ? parts[2...].joined(separator: ".") : nil
        guard attribute == nil || attribute == "path" || attribute == "value" else {
            throw SpecError(
                .notSupported, file: file, field: "--set \(key)",
                message: "only inputs.NAME, inputs.NAME.path and inputs.NAME.value can be overridden"
            )
        }
        let field = "--set \(key)"
        let directory = PathResolver.directory(of: file)
        do {
            let root = try YAMLDocument.parse(text, file: file, field: field)
                ?? SourceNode(.init(""), file: file, field: field)
            var value = try reader.readInputValue(root, baseDirectory: directory)
            let current = spec.inputValues[index].value
            if case .data(let type, let mode, _) = current, attribute != "value" {
                // A data input keeps its type and mode; a text value is its new path.
                guard case .literal(.string(let path)) = value else {
                    if case .data = value {
                        spec.inputValues[index].value = value
                        return
                    }
                    throw root.error(.invalidOverride, "input '\(name)' is a data input; expected a path")
                }
                let (source, assetType) = try reader.assets.dataSource(path, relativeTo: directory, at: root)
                value = .data(type: type ?? assetType, mode: mode, path: .source(source))
            } else if attribute == "path" {
                throw root.error(.invalidOverride, "input '\(name)' is not a data input; use inputs.\(name)=VALUE")
            }
            spec.inputValues[index].value = value
        } catch var error as SpecError {
            // Positions inside VALUE do not belong to the pipeline file.
            error.line = nil
            error.column = nil
            error.field = field
            throw error
        }
    }
}
