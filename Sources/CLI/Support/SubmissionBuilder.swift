import Coordinator
import Artifacts
import Foundation
import Protocol
import Spec

/// Turns a loaded plan into a submission: snapshots code folders and local input data, uploads
/// whatever blobs the coordinator lacks, and names the artifacts in the request.
enum SubmissionBuilder {
    /// A submission ready to send: the request, where each blob it names comes from, and the
    /// canonical text of each code snapshot's manifest by digest.
    struct Prepared {
        var request: SubmitRequest
        var sources: [String: BlobSource]
        var codeManifests: [String: String]
    }

    static func submit(plan: PipelinePlan, force: [String], client: any CoordinatorClient, progress: ProgressPrinter) async throws -> String {
        let prepared = try prepare(plan: plan, force: force)
        let missing = try await client.missingBlobs(prepared.sources.keys.sorted())
        if !missing.isEmpty {
            progress.note("uploading \(missing.count) file\(missing.count == 1 ? "" : "s") (code and data)")
        }
        for digest in missing {
            guard let source = prepared.sources[digest] else { continue }
            try await client.uploadBlob(digest: digest, source: source)
        }
        return try await client.submit(prepared.request, plan: plan)
    }

    /// What submitting `plan` would run and reuse. Uploads nothing: the code snapshots' manifests
    /// travel in the request, local data only as digests.
    static func dryRun(plan: PipelinePlan, force: [String], client: any CoordinatorClient) async throws -> DryRunReport {
        let prepared = try prepare(plan: plan, force: force)
        return try await client.dryRun(DryRunRequest(submission: prepared.request, codeManifests: prepared.codeManifests), plan: plan)
    }

    /// Snapshots code folders and local data (reading the files, storing nothing) into a request.
    static func prepare(plan: PipelinePlan, force: [String]) throws -> Prepared {
        var codeManifests: [String: String] = [:]
        var sources: [String: BlobSource] = [:]
        var codeByDirectory: [String: String] = [:]
        var code: [String: String] = [:]
        var localInputs: [String: String] = [:]
        var dataByPath: [String: String] = [:]

        func remember(_ manifest: TreeManifest, root: String, isFile: Bool) {
            sources[manifest.digest.hex] = .bytes(Array(manifest.canonicalText.utf8))
            for entry in manifest.entries {
                guard let digest = entry.digest else { continue }
                sources[digest.hex] = .file(isFile ? root : root + "/" + entry.path)
            }
        }

        for step in plan.steps {
            if let directory = step.codeDirectory {
                if let digest = codeByDirectory[directory] {
                    code[step.name] = digest
                } else {
                    let manifest = try snapshot("code folder \(directory) of step \(step.name)") { try Snapshot.folder(at: directory, store: nil) }
                    remember(manifest, root: directory, isFile: false)
                    codeManifests[manifest.digest.hex] = manifest.canonicalText
                    codeByDirectory[directory] = manifest.digest.hex
                    code[step.name] = manifest.digest.hex
                }
            }
            for input in step.inputs {
                guard case .localPath(let path) = input.source else { continue }
                if let digest = dataByPath[path] {
                    localInputs[step.name + "\u{1F}" + input.name] = digest
                    continue
                }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw CLIError("\(plan.sourceFile): step \(step.name), input \(input.name): \(path) does not exist")
                }
                let manifest = try snapshot("input \(input.name) of step \(step.name) (\(path))") {
                    isDirectory.boolValue
                        ? try Snapshot.folder(at: path, store: nil, honoringIgnoreFiles: false)
                        : try Snapshot.file(at: path, store: nil)
                }
                remember(manifest, root: path, isFile: !isDirectory.boolValue)
                dataByPath[path] = manifest.digest.hex
                localInputs[step.name + "\u{1F}" + input.name] = manifest.digest.hex
            }
        }

        let request = SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: localInputs, code: code, force: force)
        return Prepared(request: request, sources: sources, codeManifests: codeManifests)
    }

    private static func snapshot(_ what: String, _ body: () throws -> TreeManifest) throws -> TreeManifest {
        do {
            return try body()
        } catch {
            throw CLIError("cannot read the \(what): \(error)")
        }
    }

    /// The data inputs whose `azureml:` reference the local registry does not hold, left to the
    /// coordinator to resolve among the outputs runs registered: (step, input, reference).
    static func dataLeftToCoordinator(_ plan: PipelinePlan) -> [(String, String, String)] {
        plan.steps.flatMap { step in
            step.inputs.compactMap { input -> (String, String, String)? in
                guard input.registeredDataReference != nil, case .uri(let uri) = input.source else { return nil }
                return (step.name, input.name, uri)
            }
        }
    }

    /// `plan` again, its data references the local registry lacks checked against the data assets runs
    /// registered (asked of `client`), so that an unknown name is refused at its line before anything
    /// is uploaded. `plan` as it is when it has none, or when the coordinator cannot say (it refuses
    /// an unknown name at submission then).
    static func checkingRegisteredData(
        _ plan: PipelinePlan, file: String, options: PipelineLoader.Options, client: any CoordinatorClient
    ) async throws -> PipelinePlan {
        guard !dataLeftToCoordinator(plan).isEmpty, let assets = try? await client.outputAssets() else { return plan }
        var options = options
        options.producedData = OutputRegistration.index(of: assets)
        return try load(file: file, options: options)
    }

    /// Loads and validates a pipeline file, turning errors into user-facing ones.
    static func load(file: String, options: PipelineLoader.Options) throws -> PipelinePlan {
        do {
            return try PipelineLoader.load(file: file, options: options)
        } catch {
            throw CLIError("error: \(error)")
        }
    }
}
