import Foundation

/// The parts of a conda environment file (`conda_file:`) a Python virtual environment can honour:
/// the Python version (`python=3.11`) and the packages, as pip requirements.
///
/// `- pip: [...]` entries are taken as written. Other conda packages become pip requirements
/// (`numpy=1.26` → `numpy==1.26`, a build string or channel prefix dropped) and are listed in
/// `converted` so the loader can warn that their pip names may differ. `pip` itself is skipped.
struct CondaFile: Hashable {
    /// `3.11` from `python=3.11` (or `python==3.11.4`: major and minor only), else nil.
    var python: String?
    var requirements: [String]
    /// Conda packages turned into pip requirements, as written in the file.
    var converted: [String]
    /// The Python distributions the file lists, by the rule of `DistributionNames`: what an
    /// interpreter mapped to the environment is checked for.
    var expectedDistributions: [String] = []

    /// Reads a conda file's root mapping (from its own file or inline under `conda_file:`).
    static func read(_ root: SourceNode) throws(SpecError) -> CondaFile {
        var result = CondaFile(python: nil, requirements: [], converted: [])
        guard !root.isNull else { return result }
        guard root.isMapping else {
            throw root.error(.invalidType, "expected a conda environment (a mapping with dependencies:), found \(root.shapeName)")
        }
        guard let dependencies = try root.entries()["dependencies"], !dependencies.isNull else { return result }
        for element in try dependencies.elements() {
            if element.isMapping {
                for entry in try element.entries() {
                    guard entry.key == "pip" else {
                        throw entry.value.error(.notSupported, "'\(entry.key):' in dependencies is not supported; Conduit reads conda packages and '- pip: [...]'")
                    }
                    for item in try entry.value.isNull ? [] : entry.value.elements() {
                        let requirement = try item.string(expecting: "a pip requirement such as scikit-learn==1.5.0")
                        guard !requirement.hasPrefix("-") else {
                            throw item.error(
                                .notSupported,
                                "pip options ('\(requirement)') are not supported in a conda file; list the packages only (a private index can be set in the worker's pip.conf)"
                            )
                        }
                        guard !requirement.trimmingCharacters(in: .whitespaces).isEmpty else {
                            throw item.error(.invalidType, "expected a pip requirement, found an empty string")
                        }
                        result.requirements.append(requirement.trimmingCharacters(in: .whitespaces))
                        if let name = DistributionNames.ofPipRequirement(requirement) { result.expectedDistributions.append(name) }
                    }
                }
                continue
            }
            let package = try element.string(expecting: "a conda package such as numpy=1.26 or a '- pip: [...]' list")
                .trimmingCharacters(in: .whitespaces)
            let specification = Self.withoutChannel(package)
            let name = StepEnvironment.packageName(specification)
            switch name {
            case "python":
                result.python = try Self.pythonVersion(specification, at: element)
            case "pip", "":
                continue
            default:
                result.requirements.append(Self.pipRequirement(specification))
                result.converted.append(package)
                if let name = DistributionNames.ofCondaPackage(package) { result.expectedDistributions.append(name) }
            }
        }
        return result
    }

    /// `conda-forge::numpy=1.26` → `numpy=1.26`.
    private static func withoutChannel(_ package: String) -> String {
        guard let range = package.range(of: "::") else { return package }
        return String(package[range.upperBound...])
    }

    /// A conda match spec as a pip requirement: `numpy=1.26` → `numpy==1.26`,
    /// `numpy=1.26=py311_0` → `numpy==1.26`, `numpy 1.26` → `numpy==1.26`; other operators are kept.
    static func pipRequirement(_ specification: String) -> String {
        let parts = specification.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, let first = parts.first {
            let version = String(parts[1])
            return String(first) + (version.first.map { "<>=!~".contains($0) } == true ? version : "==" + version)
        }
        guard let equals = specification.firstIndex(of: "=") else { return specification }
        let name = specification[..<equals]
        if let previous = name.last, "<>!~".contains(previous) { return specification }
        var rest = specification[equals...].drop { $0 == "=" }
        if let build = rest.firstIndex(of: "=") { rest = rest[..<build] }
        return String(name) + "==" + String(rest)
    }

    /// `3.11` from `python=3.11`, `python==3.11.4` or `python 3.11`; nil for a bare `python`.
    private static func pythonVersion(_ specification: String, at node: SourceNode) throws(SpecError) -> String? {
        let version = specification.dropFirst("python".count).drop { $0 == "=" || $0 == " " }
        guard !version.isEmpty else { return nil }
        let numbers = version.split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count >= 2, numbers.prefix(2).allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            throw node.error(.invalidType, "'\(specification)': expected python=MAJOR.MINOR (such as python=3.11); version ranges are not supported")
        }
        return numbers.prefix(2).joined(separator: ".")
    }
}
