import Foundation

/// What a Python interpreter says about itself: where its packages live, its version, whether it
/// has pip, whether it is a conda environment.
///
/// Asked once per environment and worker process (``probe(_:environment:)``), by running the
/// interpreter under the path it was given: a virtual environment's `python` then finds its
/// `pyvenv.cfg` and reports the environment's own site-packages, as it would for a step.
public struct PythonFacts: Sendable, Hashable, Codable {
    /// `sys.prefix` as the interpreter sees it when started from its own path.
    public var prefix: String
    /// `MAJOR.MINOR`, such as `3.11`.
    public var version: String
    /// Its site-packages directories (`site.getsitepackages()`, and the user's when it reads
    /// those), in `sys.path` order; only the ones that exist.
    public var siteDirectories: [String]
    /// Whether `import pip` works.
    public var hasPip: Bool
    /// Whether `prefix` is a conda environment (it holds `conda-meta`).
    public var isConda: Bool

    enum CodingKeys: String, CodingKey {
        case prefix, version, hasPip = "pip", isConda = "conda", siteDirectories = "site"
    }

    public init(prefix: String, version: String, siteDirectories: [String], hasPip: Bool, isConda: Bool) {
        self.prefix = prefix
        self.version = version
        self.siteDirectories = siteDirectories
        self.hasPip = hasPip
        self.isConda = isConda
    }

    /// The program the interpreter runs to describe itself: one JSON object on standard output.
    static let probeScript = """
        import importlib.util, json, os, site, sys
        dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
        if site.ENABLE_USER_SITE and hasattr(site, "getusersitepackages"):
            dirs.append(site.getusersitepackages())
        print(json.dumps({
            "prefix": sys.prefix,
            "version": "%d.%d" % sys.version_info[:2],
            "site": [d for d in dirs if os.path.isdir(d)],
            "pip": importlib.util.find_spec("pip") is not None,
            "conda": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
        }))
        """

    /// Reads the probe's output (its last line holds the JSON: a `sitecustomize` may print before it).
    static func parse(_ output: String) -> PythonFacts? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else { return nil }
        return try? JSONDecoder().decode(PythonFacts.self, from: Data(line.utf8))
    }

    /// Runs `interpreter` (an absolute path, used as written, never resolved through links) to learn
    /// its facts; the failure says how the interpreter ended.
    public static func probe(_ interpreter: String, environment: [String: String]) async -> Result<PythonFacts, ProbeFailure> {
        let result = await PythonCommand.capture([interpreter, "-c", probeScript], environment: PythonCommand.cleaned(environment))
        guard result.succeeded, let facts = parse(result.stdout) else {
            let detail = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(ProbeFailure(message: "\(interpreter) \(result.ending)" + (detail.isEmpty ? "" : ": " + String(detail.suffix(500)))))
        }
        return .success(facts)
    }

    /// Why an interpreter could not describe itself.
    public struct ProbeFailure: Error, Sendable, Hashable {
        public var message: String
    }
}
