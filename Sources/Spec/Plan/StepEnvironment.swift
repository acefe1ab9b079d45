import Artifacts
import Foundation

/// What a step's `environment` resolves to on a worker: the worker's `python3`, an existing
/// interpreter, or a Python virtual environment built from a requirements list.
///
/// Resolved while the pipeline loads (see `docs/environments.md`): a named environment
/// (`azureml:NAME:VERSION`, a registry URI) through the environments file, an inline one
/// (`image:` with `conda_file:`) from its conda file. `digest` is the SHA-256 of the resolution's
/// canonical form: workers key their virtual environments by it, and the cache key covers it, so
/// mapping a name to new requirements re-runs the steps that use it.
public struct StepEnvironment: Codable, Hashable, Sendable {
    /// How the worker provides Python for the step.
    public enum Kind: String, Codable, Hashable, Sendable {
        /// The worker's own `python3`, as found on its `PATH`; nothing is built.
        case workerPython = "worker_python"
        /// An existing interpreter, `python`: the step sees it as `python` and `python3`.
        case interpreter
        /// A virtual environment built from `requirements` with `python -m venv` and `pip install`.
        case virtualEnvironment = "virtual_environment"
    }

    /// The environment as written (`azureml:sklearn-env:1`, a registry URI), or nil for an inline one.
    public var reference: String?
    public var kind: Kind
    /// `.interpreter`: the interpreter's absolute path. `.virtualEnvironment`: the Python version asked
    /// for (`3.11`, from `python=3.11`), or nil for the worker's `python3`. Otherwise nil.
    public var python: String?
    /// pip requirements, as written (`.virtualEnvironment` only).
    public var requirements: [String]
    /// SHA-256 (hex) of `canonicalForm`.
    public var digest: String

    /// Creates an environment; `digest` is computed from the other fields except `reference`
    /// (two names that resolve to the same thing share one virtual environment).
    public init(reference: String?, kind: Kind, python: String? = nil, requirements: [String] = []) {
        self.reference = reference
        self.kind = kind
        self.python = python
        self.requirements = kind == .virtualEnvironment ? requirements : []
        self.digest = ""
        self.digest = SHA256Hasher.digest(ofUTF8: canonicalForm).hex
    }

    /// Sorted-key JSON of what the worker builds (the reference is not part of it).
    public var canonicalForm: String {
        var text = "{\"kind\":" + CanonicalJSON.quote(kind.rawValue)
        if let python { text += ",\"python\":" + CanonicalJSON.quote(python) }
        text += ",\"requirements\":[" + requirements.map(CanonicalJSON.quote).joined(separator: ",") + "]}"
        return text
    }

    /// Sorted-key JSON of every field, in the form `Codable` reads back (the cache manifest holds it).
    public var canonicalJSON: String {
        var text = "{\"digest\":" + CanonicalJSON.quote(digest) + ",\"kind\":" + CanonicalJSON.quote(kind.rawValue)
        if let python { text += ",\"python\":" + CanonicalJSON.quote(python) }
        if let reference { text += ",\"reference\":" + CanonicalJSON.quote(reference) }
        text += ",\"requirements\":[" + requirements.map(CanonicalJSON.quote).joined(separator: ",") + "]}"
        return text
    }

    /// How messages name the environment: the reference, else `an inline environment`.
    public var label: String { reference ?? "an inline environment" }

    /// The Python the step runs: `python3` (the worker's), an interpreter path, or `python3.11`.
    public var pythonDescription: String {
        switch kind {
        case .workerPython: "python3"
        case .interpreter: python ?? "python3"
        case .virtualEnvironment: python.map { "python" + $0 } ?? "python3"
        }
    }

    /// One line per change from `earlier` to `later`, each starting `environment: `, e.g.
    /// `environment: azureml:sklearn-env:1 → azureml:sklearn-env:2`,
    /// `environment: requirement scikit-learn==1.5.0 added`,
    /// `environment: python /usr/bin/python3.11 → python3`. Empty when they are equal.
    public static func differences(from earlier: StepEnvironment?, to later: StepEnvironment?) -> [String] {
        switch (earlier, later) {
        case (nil, nil):
            return []
        case (nil, let new?):
            return ["environment: \(new.label) added (\(new.summary))"]
        case (let old?, nil):
            return ["environment: \(old.label) removed (was \(old.summary))"]
        case let (old?, new?):
            guard old != new else { return [] }
            var result: [String] = []
            if old.reference != new.reference { result.append("environment: \(old.label) → \(new.label)") }
            if old.pythonDescription != new.pythonDescription {
                result.append("environment: python \(old.pythonDescription) → \(new.pythonDescription)")
            }
            if old.kind != new.kind {
                result.append("environment: \(old.kindDescription) → \(new.kindDescription)")
            }
            result += requirementChanges(from: old.requirements, to: new.requirements)
            return result
        }
    }

    /// `python3 with 2 requirements`, for added/removed lines.
    var summary: String {
        kind == .virtualEnvironment
            ? "\(pythonDescription) virtual environment with \(requirements.count) requirement\(requirements.count == 1 ? "" : "s")"
            : pythonDescription
    }

    private var kindDescription: String {
        switch kind {
        case .workerPython: "the worker's python3"
        case .interpreter: "an existing interpreter"
        case .virtualEnvironment: "a virtual environment"
        }
    }

    /// Requirement changes, pairing requirements by package name so a version change reads as one line.
    private static func requirementChanges(from old: [String], to new: [String]) -> [String] {
        var result: [String] = []
        let oldByName = Dictionary(old.map { (packageName($0), $0) }, uniquingKeysWith: { first, _ in first })
        let newByName = Dictionary(new.map { (packageName($0), $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(oldByName.keys).union(newByName.keys).sorted() {
            switch (oldByName[name], newByName[name]) {
            case let (before?, after?) where before != after: result.append("environment: requirement \(before) → \(after)")
            case (nil, let after?): result.append("environment: requirement \(after) added")
            case (let before?, nil): result.append("environment: requirement \(before) removed")
            default: break
            }
        }
        if result.isEmpty && old != new { result.append("environment: the order of the requirements changed") }
        return result
    }

    /// The distribution name of a pip requirement, lower-cased with `_`/`.` as `-` (PEP 503).
    static func packageName(_ requirement: String) -> String {
        let stops: Set<Character> = ["=", "<", ">", "!", "~", ";", "[", " ", "@", "("]
        let name = requirement.prefix { !stops.contains($0) }
        return String(name).lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: ".", with: "-")
    }
}
