import Foundation

/// The environments file: what named environments resolve to on Conduit's workers.
///
/// ```yaml
/// # a full reference: only this version or label
/// azureml://registries/azureml/environments/sklearn-1.5/labels/latest:
///   requirements: [scikit-learn==1.5.0, pandas]
///   python_version: "3.11"          # optional; default: the worker's python3
/// # a bare name: any version or label of it
/// sklearn-env:
///   python: /opt/conda/envs/sklearn/bin/python   # an existing interpreter, used as it is
/// gpu-env:
///   conda_file: envs/gpu.yml       # relative to this file
/// torch-env:
///   python: /opt/conda/envs/torch/bin/python
///   conda_file: envs/torch.yml     # what that interpreter must hold: checked, not installed
/// ```
///
/// Read with the same safe YAML rules as pipelines; every problem names the file, line and key.
public struct EnvironmentsFile: Sendable, Hashable {
    /// One mapping: a key as written and what it resolves to (with no `reference`).
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var environment: StepEnvironment
        /// `file:line` of the key, for messages.
        public var location: String
        /// With `python:`, the distributions its `conda_file:` lists (see `DistributionNames`): the
        /// interpreter is checked for them when a pipeline loads. Empty otherwise.
        public var expectedDistributions: [String] = []
        /// With `python:`, its `conda_file:` as written, for messages.
        public var condaFile: String?
    }

    /// Absolute path of the file, or nil when there is none.
    public var file: String?
    /// Entries in file order.
    public var entries: [Entry]
    /// Conda packages converted to pip requirements (see `CondaFile`), as warnings.
    public var warnings: [String]

    /// No file: every named environment runs with the worker's `python3`, with a warning.
    public init() {
        self.file = nil
        self.entries = []
        self.warnings = []
    }

    /// The keys an entry may hold.
    static let entryKeys = ["requirements", "python_version", "python", "conda_file"]

    /// Reads the file at `path` (absolute).
    public static func load(file path: String) throws(SpecError) -> EnvironmentsFile {
        do {
            return try read(try YAMLDocument.load(file: path), file: path)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
    }

    /// Reads `text` as if it were the content of `file` (an absolute path: conda files resolve against it).
    public static func parse(_ text: String, file: String) throws(SpecError) -> EnvironmentsFile {
        do {
            return try read(try YAMLDocument.parse(text, file: file), file: file)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: file, message: "\(error)")
        }
    }

    /// The entry for `reference`: the entry whose key is the reference as written, else one whose key
    /// is the environment's bare name (`sklearn-env` matches `azureml:sklearn-env:3` and
    /// `azureml://registries/r/environments/sklearn-env/labels/latest`).
    public func entry(for reference: String) -> Entry? {
        if let exact = entries.first(where: { $0.key == reference }) { return exact }
        guard let name = Self.environmentName(reference) else { return nil }
        return entries.first { $0.key == name || Self.isBareKey($0.key) && Self.environmentName($0.key) == name }
    }

    /// The environment's name in a reference: `azureml:NAME:VERSION`, `azureml:NAME@LABEL`, `NAME`,
    /// or a URI or ARM id holding `/environments/NAME/...`; nil when there is none.
    public static func environmentName(_ reference: String) -> String? {
        if let range = reference.range(of: "/environments/") {
            let name = reference[range.upperBound...].prefix { $0 != "/" }
            return name.isEmpty ? nil : String(name)
        }
        var text = Substring(reference)
        if text.hasPrefix("azureml:") { text = text.dropFirst("azureml:".count) }
        let name = text.prefix { $0 != ":" && $0 != "@" }
        return name.isEmpty ? nil : String(name)
    }

    /// A key with no version or label (`sklearn-env`, `azureml:sklearn-env`): it matches any version.
    private static func isBareKey(_ key: String) -> Bool {
        guard !key.contains("/") else { return false }
        let text = key.hasPrefix("azureml:") ? key.dropFirst("azureml:".count) : Substring(key)
        return !text.contains(":") && !text.contains("@")
    }

    private static func read(_ root: SourceNode?, file: String) throws(SpecError) -> EnvironmentsFile {
        var result = EnvironmentsFile()
        result.file = file
        guard let root, !root.isNull else { return result }
        guard root.isMapping else {
            throw root.error(.invalidType, "expected a mapping of environment names to {requirements: [...]}, {python: PATH} or {conda_file: PATH}, found \(root.shapeName)")
        }
        let directory = PathResolver.directory(of: file)
        for entry in try root.entries() {
            let location = "\(file):\(entry.value.line ?? 0)"
            var read = Entry(key: entry.key, environment: StepEnvironment(reference: nil, kind: .workerPython), location: location)
            if !entry.value.isNull {
                try readEntry(into: &read, entry.value, directory: directory, warnings: &result.warnings)
            }
            result.entries.append(read)
        }
        return result
    }

    private static func readEntry(
        into entry: inout Entry, _ node: SourceNode, directory: String, warnings: inout [String]
    ) throws(SpecError) {
        let key = entry.key
        guard node.isMapping else {
            throw node.error(.invalidType, "environment '\(key)': expected {requirements: [...]}, {python: PATH} or {conda_file: PATH}, found \(node.shapeName)")
        }
        let fields = try node.entries()
        for field in fields where !entryKeys.contains(field.key) {
            throw field.value.error(.unknownField, "environment '\(key)': unknown key '\(field.key)'; an entry has \(entryKeys.joined(separator: ", "))")
        }
        let chosen = ["requirements", "python", "conda_file"].filter { fields[$0] != nil }
        guard chosen.count == 1 || chosen == ["python", "conda_file"] else {
            throw node.error(
                chosen.isEmpty ? .missingField : .invalidType,
                "environment '\(key)': give exactly one of requirements:, python: or conda_file: (python: may come with conda_file:, the packages that interpreter holds)"
                    + (chosen.isEmpty ? "" : " (found \(chosen.joined(separator: " and ")))")
            )
        }
        if let version = fields["python_version"], chosen[0] != "requirements" {
            throw version.error(.invalidType, "environment '\(key)': python_version goes with requirements: (a conda file says python=3.x; python: names an interpreter)")
        }
        if let requirements = fields["requirements"] {
            var list: [String] = []
            for item in try requirements.isNull ? [] : requirements.elements() {
                let text = try item.string(expecting: "a pip requirement such as scikit-learn==1.5.0")
                guard !text.isEmpty, !text.hasPrefix("-") else {
                    throw item.error(.invalidType, "environment '\(key)': '\(text)' is not a pip requirement (options are not supported)")
                }
                list.append(text)
            }
            let version = try fields["python_version"].map { node throws(SpecError) in try pythonVersion(node, key: key) }
            entry.environment = StepEnvironment(reference: nil, kind: .virtualEnvironment, python: version, requirements: list)
            return
        }
        if let python = fields["python"] {
            let path = try python.string(expecting: "the absolute path of a Python interpreter")
            guard path.hasPrefix("/") else {
                throw python.error(.invalidType, "environment '\(key)': python: '\(path)' must be an absolute path to an interpreter (such as /usr/bin/python3.11)")
            }
            entry.environment = StepEnvironment(reference: nil, kind: .interpreter, python: path)
            if let condaNode = fields["conda_file"] {
                // Nothing is installed: the file says what the interpreter already holds.
                entry.expectedDistributions = try readCondaFile(condaNode, relativeTo: directory).expectedDistributions
                entry.condaFile = condaNode.isMapping ? "an inline conda file" : try condaNode.string(expecting: "the path of a conda file")
            }
            return
        }
        let condaNode = fields["conda_file"]!
        let conda = try readCondaFile(condaNode, relativeTo: directory)
        if !conda.converted.isEmpty {
            warnings.append(condaNode.warning(convertedWarning(conda.converted)))
        }
        entry.environment = StepEnvironment(reference: nil, kind: .virtualEnvironment, python: conda.python, requirements: conda.requirements)
    }

    /// `3.11` from a quoted `"3.11"`; a bare 3.10 would read as the number 3.1, so numbers are refused.
    private static func pythonVersion(_ node: SourceNode, key: String) throws(SpecError) -> String {
        let literal = try node.literal()
        guard case .string(let text) = literal else {
            throw node.error(.invalidType, "environment '\(key)': write python_version in quotes (\"3.11\"): YAML reads 3.10 as the number 3.1")
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            throw node.error(.invalidType, "environment '\(key)': python_version '\(text)' must be MAJOR.MINOR, such as \"3.11\"")
        }
        return text
    }

    /// A conda file given by path (relative to `directory`) or inline.
    static func readCondaFile(_ node: SourceNode, relativeTo directory: String) throws(SpecError) -> CondaFile {
        if node.isMapping { return try CondaFile.read(node) }
        let text = try node.string(expecting: "the path of a conda file, or an inline conda environment")
        if PathResolver.isRemote(text) {
            throw node.error(.notSupported, "conda_file: '\(text)' is remote; Conduit reads a local file")
        }
        let path = PathResolver.absolute(PathResolver.strippingFileScheme(text), relativeTo: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw node.error(.fileNotFound, "the conda file '\(text)' does not exist (looked for \(path))")
        }
        let root: SourceNode?
        do {
            root = try YAMLDocument.load(file: path)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(.syntax, file: path, message: "\(error)")
        }
        guard let root else { return CondaFile(python: nil, requirements: [], converted: []) }
        return try CondaFile.read(root)
    }

    /// The warning for conda packages turned into pip requirements.
    static func convertedWarning(_ packages: [String]) -> String {
        "conda packages \(packages.joined(separator: ", ")) are installed with pip under the same names; if a pip name differs, list it under '- pip:' instead"
    }
}
