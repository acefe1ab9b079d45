import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An attempt's own writable Python environment, layered over the shared one it runs in.
///
/// The shared environment (a virtual environment built for a digest, or an interpreter the
/// environments file maps to) is never written by a step: each attempt gets a virtual environment
/// of its own in its scratch directory, made with `python -m venv --without-pip` from the shared
/// interpreter. A `.pth` file in the layer's site-packages adds the shared interpreter's
/// site-packages after the layer's own (with `site.addsitedir`, so their `.pth` files work too), and
/// `pip`, `pip3` and `pipX.Y` in the layer's `bin` run pip with the layer's interpreter. So:
///
/// - `import` finds what the step installed first, then what the shared environment holds;
/// - `pip install` (and `python -m pip install`) writes into the layer; pip leaves packages outside
///   it alone (`Not uninstalling … outside environment`), so a downgrade shadows the shared version;
/// - the layer goes when the attempt's directory is removed.
///
/// The step sees `sys.prefix` and `VIRTUAL_ENV` as the layer, `sys.base_prefix` as the installation
/// underneath, and on `PATH` the layer's `bin`, then the shared environment's own `bin` (its
/// console scripts), then the worker's `PATH`.
public struct AttemptLayer: Sendable, Hashable {
    /// The layer's directory name inside the attempt's directory.
    public static let directoryName = "python-layer"
    /// The `.pth` file that adds the shared environment's site-packages.
    static let pathFileName = "conduit-shared-environment.pth"

    /// The layer (a virtual environment): `VIRTUAL_ENV` and the first entry of `PATH`.
    public var directory: String
    /// The shared environment's own `bin`, after the layer's on `PATH`.
    public var sharedBinDirectory: String?
    /// `CONDA_PREFIX` when the shared interpreter belongs to a conda environment.
    public var condaPrefix: String?

    public init(directory: String, sharedBinDirectory: String?, condaPrefix: String?) {
        self.directory = directory
        self.sharedBinDirectory = sharedBinDirectory
        self.condaPrefix = condaPrefix
    }

    /// `environment` with the layer applied.
    public func applied(to environment: [String: String]) -> [String: String] {
        var result = environment
        let path = environment["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/local/bin:/usr/bin:/bin"
        result["PATH"] = ([directory + "/bin"] + (sharedBinDirectory.map { [$0] } ?? []) + [path]).joined(separator: ":")
        result["PYTHONHOME"] = nil
        result["VIRTUAL_ENV"] = directory
        if let condaPrefix { result["CONDA_PREFIX"] = condaPrefix }
        return result
    }

    // MARK: What the layer holds (pure)

    /// The `.pth` line that adds `directories` with `site.addsitedir`, in order; nil when a path
    /// cannot be written on one line. (`site` runs such a line with `exec` in a scope of its own:
    /// plain statements only, no comprehension, which would not see the imported name.)
    static func pathFileText(adding directories: [String]) -> String? {
        guard !directories.contains(where: { $0.contains("\n") || $0.contains("\r") }) else { return nil }
        return (["import site"] + directories.map { "site.addsitedir(\(pythonLiteral($0)))" }).joined(separator: "; ") + "\n"
    }

    /// `text` as a Python string literal.
    static func pythonLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// The `pip` script of a layer: pip run by the layer's interpreter (from the shared
    /// site-packages), or, when the shared interpreter has no pip, the worker's pip aimed at the
    /// layer (`--python`).
    static func pipScript(layer: String, sharedHasPip: Bool, workerPython: String?) -> String {
        let python = EnvironmentBuilds.shellQuoted(layer + "/bin/python")
        let run: String
        if !sharedHasPip, let workerPython {
            run = "exec \(EnvironmentBuilds.shellQuoted(workerPython)) -m pip --python \(python) \"$@\""
        } else {
            run = "exec \(python) -m pip \"$@\""
        }
        return """
            #!/bin/sh
            # Conduit: pip for this attempt. It installs into the attempt's own environment
            # (VIRTUAL_ENV), never into the shared environment underneath.
            \(run)

            """
    }

    // MARK: Making one (I/O)

    /// Makes the layer over `prepared` in `attemptDirectory`; nil when the step runs with the
    /// worker's `python3` (there is nothing shared to protect). `baseEnvironment` is the worker's.
    public static func create(
        over prepared: EnvironmentBuilds.Prepared, in attemptDirectory: String, label: String, baseEnvironment: [String: String]
    ) async -> Result<AttemptLayer?, EnvironmentBuilds.BuildFailure> {
        guard let interpreter = prepared.interpreter, let facts = prepared.facts else { return .success(nil) }
        let directory = attemptDirectory + "/" + directoryName
        func failure(_ reason: String) -> Result<AttemptLayer?, EnvironmentBuilds.BuildFailure> {
            .failure(EnvironmentBuilds.BuildFailure(
                message: "environment \(label): cannot make this attempt's own layer over \(interpreter) (so that its pip install stays in the attempt): \(reason)"
            ))
        }
        let made = await PythonCommand.capture(
            [interpreter, "-m", "venv", "--without-pip", directory], environment: PythonCommand.cleaned(baseEnvironment)
        )
        guard made.succeeded else {
            let detail = made.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return failure("'-m venv' \(made.ending)" + (detail.isEmpty ? "" : ": " + String(detail.suffix(500))))
        }
        guard let sitePackages = layerSitePackages(directory) else {
            return failure("'-m venv' made no lib/python*/site-packages in \(directory)")
        }
        guard let pathText = pathFileText(adding: facts.siteDirectories) else {
            return failure("a site-packages path holds a line break")
        }
        let workerPython = SimpleCommand.resolve("python3", path: baseEnvironment["PATH"], workingDirectory: "/")
        let pip = pipScript(layer: directory, sharedHasPip: facts.hasPip, workerPython: workerPython)
        do {
            try Data(pathText.utf8).write(to: URL(fileURLWithPath: sitePackages + "/" + pathFileName))
            for name in ["pip", "pip3", "pip" + facts.version] {
                let path = directory + "/bin/" + name
                try Data(pip.utf8).write(to: URL(fileURLWithPath: path))
                guard chmod(path, 0o755) == 0 else { return failure("cannot make \(path) executable") }
            }
        } catch {
            return failure("cannot write into \(directory): \(error.localizedDescription)")
        }
        return .success(AttemptLayer(
            directory: directory, sharedBinDirectory: prepared.binDirectory, condaPrefix: facts.isConda ? facts.prefix : nil
        ))
    }

    /// `DIR/lib/pythonX.Y/site-packages`, as `venv` made it.
    private static func layerSitePackages(_ directory: String) -> String? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory + "/lib") else { return nil }
        for name in names.sorted() where name.hasPrefix("python") {
            let candidate = directory + "/lib/" + name + "/site-packages"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue { return candidate }
        }
        return nil
    }
}
