import Foundation
import Spec

/// The coordinator's datastores: names that `azureml://datastores/NAME/paths/...` refers to, each
/// a directory on the coordinator's machine, and the one `${{default_datastore}}` names.
///
/// Pure: maps URIs to paths and checks them; the shell reads and writes the files.
public struct Datastores: Sendable, Hashable {
    /// Datastore name → absolute directory.
    public var directories: [String: String]
    /// The datastore a pipeline without `settings.default_datastore` writes `${{default_datastore}}` to.
    public var defaultName: String

    /// Azure ML's name for a workspace's default datastore, which pipelines often name directly.
    public static let standardName = "workspaceblobstore"

    public init(directories: [String: String], defaultName: String) {
        self.directories = directories
        self.defaultName = defaultName
    }

    /// `workspaceblobstore` under `dataDirectory/datastores`, and `extra` (which may replace it).
    public static func standard(dataDirectory: String, extra: [String: String] = [:], defaultName: String? = nil) -> Datastores {
        var directories = [standardName: dataDirectory + "/datastores/" + standardName]
        directories.merge(extra) { _, new in new }
        return Datastores(directories: directories, defaultName: defaultName ?? standardName)
    }

    /// Why a datastore path cannot be used; the message names the URI and what is configured.
    public struct Failure: Error, Sendable, Hashable {
        public var message: String
    }

    /// Where a datastore URI points: the datastore, its directory, and the path beneath it.
    ///
    /// Open ``directory`` and reach ``path`` beneath it without following links (Artifacts'
    /// `ConfinedDirectory`): ``fullPath`` is for messages only, since a link inside the directory
    /// could lead it elsewhere.
    public struct Location: Sendable, Hashable {
        /// The datastore's name.
        public var datastore: String
        /// The datastore's directory, as configured.
        public var directory: String
        /// The path beneath ``directory``: relative, without `.` or `..` components.
        public var path: String

        /// `directory/path`, for messages.
        public var fullPath: String { directory + "/" + path }
    }

    /// The local path a data input's `azureml://datastores/NAME/paths/PATH` names.
    public func inputLocation(of uri: String) throws(Failure) -> String {
        try input(uri).fullPath
    }

    /// Where a data input's `azureml://datastores/NAME/paths/PATH` points.
    public func input(_ uri: String) throws(Failure) -> Location {
        let parsed: DatastorePath
        do {
            parsed = try DatastorePath(parsing: uri)
        } catch {
            throw Failure(message: error.message)
        }
        guard !parsed.hasExpressions else {
            throw Failure(message: "'\(uri)' uses an expression; only output paths may use ${{name}}, ${{output_name}} and ${{default_datastore}}")
        }
        return try location(datastore: parsed.datastore, path: parsed.path, uri: uri)
    }

    /// The local path an output's `path:` template names once filled in for `jobName`.
    public func outputLocation(
        of template: String, jobName: String, outputName: String, pipelineDefault: String?
    ) throws(Failure) -> String {
        try output(template, jobName: jobName, outputName: outputName, pipelineDefault: pipelineDefault).fullPath
    }

    /// Where an output's `path:` template points once filled in for `jobName`.
    public func output(
        _ template: String, jobName: String, outputName: String, pipelineDefault: String?
    ) throws(Failure) -> Location {
        do {
            let parsed = try DatastorePath(parsing: template)
            let resolved = try parsed.resolved(jobName: jobName, outputName: outputName, defaultDatastore: pipelineDefault ?? defaultName)
            return try location(datastore: resolved.datastore, path: resolved.path, uri: template)
        } catch let failure as DatastorePath.Failure {
            throw Failure(message: failure.message)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(message: "\(error)")
        }
    }

    private func location(datastore: String, path: String, uri: String) throws(Failure) -> Location {
        guard let directory = directories[datastore] else {
            let known = directories.keys.sorted().joined(separator: ", ")
            throw Failure(
                message: "'\(uri)' names the datastore '\(datastore)', which this coordinator does not have (datastores: \(known)); add it with --datastore \(datastore)=DIR"
            )
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !segments.isEmpty, !segments.contains(where: { $0 == ".." || $0 == "." }) else {
            throw Failure(message: "'\(uri)': the path must stay inside datastore \(datastore), without '.' or '..'")
        }
        return Location(datastore: datastore, directory: directory, path: segments.joined(separator: "/"))
    }

    /// A step output whose `path:` writes a datastore location or a folder above it.
    public struct Writer: Sendable, Hashable {
        /// The step.
        public var step: String
        /// Its output.
        public var output: String
        /// The output's `path:`, as written.
        public var path: String
    }

    /// The outputs of `plan` whose `path:` names `location` or a folder above it: what may make a
    /// datastore input exist while the run goes on. Where a path uses `${{name}}` (the job name,
    /// `RUN_ID.STEP`), any run's id matches, since the run's id is not known at submission.
    public func writers(of location: Location, in plan: PipelinePlan) -> [Writer] {
        let wanted = location.path.split(separator: "/").map(String.init)
        var found: [Writer] = []
        for step in plan.steps {
            for output in step.outputs {
                guard let template = output.path, let parsed = try? DatastorePath(parsing: template),
                      let resolved = try? parsed.resolved(
                        jobName: Self.anyJobName, outputName: output.name, defaultDatastore: plan.settings.defaultDatastore ?? defaultName)
                else { continue }
                let job = Self.jobName(runID: "", step: step.name)
                func same(_ written: String, _ read: String) -> Bool {
                    let parts = written.components(separatedBy: Self.anyJobName)
                    guard parts.count > 1 else { return written == read }
                    // Each job name reads `run-….STEP`: the text around them must match, in order.
                    let pattern = parts.map { NSRegularExpression.escapedPattern(for: $0) }
                        .joined(separator: "run-[^/]*" + NSRegularExpression.escapedPattern(for: job))
                    return read.range(of: "^" + pattern + "$", options: .regularExpression) != nil
                }
                guard same(resolved.datastore, location.datastore) else { continue }
                let segments = resolved.path.split(separator: "/").map(String.init)
                guard segments.count <= wanted.count, zip(segments, wanted).allSatisfy(same) else { continue }
                found.append(Writer(step: step.name, output: output.name, path: template))
            }
        }
        return found
    }

    /// Stands for the job name while matching output paths at submission (no real name contains it).
    private static let anyJobName = "\u{1F}job\u{1F}"

    /// The job name `${{name}}` stands for: the run and the step, one path component
    /// (`run-20260101-120000-abcd1234.fast.train` for the step `fast/train`).
    public static func jobName(runID: String, step: String) -> String {
        runID + "." + step.replacingOccurrences(of: "/", with: ".")
    }
}
