import Artifacts
import Foundation
import Protocol
import Spec
import Store

extension CoordinatorService {
    /// Submits a run whose inputs may read datastores: those are snapshotted first, off the actor
    /// (see `resolvingDatastoreInputs`), then the run starts as `submit` does. `plan`, when given,
    /// is what `request.planJSON` encodes.
    public nonisolated func submitReadingDatastores(_ request: SubmitRequest, plan: PipelinePlan? = nil) async throws -> String {
        let decoded = if let plan { plan } else { try await decodedPlan(of: request) }
        let (resolved, resolvedPlan) = try await resolvingDatastoreInputs(request, plan: decoded)
        return try await submit(resolved, plan: resolvedPlan)
    }

    /// Snapshots every data input read from a datastore (`azureml://datastores/NAME/paths/...`)
    /// into the artifact store, so the step reads, and its cache key covers, the content as it
    /// was at submission. Returns the submission with those inputs as uploaded local data (the plan
    /// names the datastore directory; `localInputs` the content digest), or `request` unchanged
    /// when no input reads a datastore.
    ///
    /// Runs off the actor: hashing a large dataset must not hold up heartbeats.
    ///
    /// With `storing: false` (a dry run) the content is only hashed, not stored.
    public nonisolated func resolvingDatastoreInputs(
        _ request: SubmitRequest, plan: PipelinePlan, storing: Bool = true
    ) async throws -> (SubmitRequest, PipelinePlan) {
        let reads = plan.steps.contains { step in
            step.inputs.contains { input in
                if case .uri(let uri) = input.source { return DatastorePath.isDatastoreURI(uri) }
                return false
            }
        }
        guard reads else { return (request, plan) }
        let datastores = configuration.effectiveDatastores
        let blobs = storing ? self.blobs : nil
        return try await Task.detached {
            var plan = plan
            var request = request
            var digests: [String: String] = [:]
            for stepIndex in plan.steps.indices {
                for inputIndex in plan.steps[stepIndex].inputs.indices {
                    let input = plan.steps[stepIndex].inputs[inputIndex]
                    guard case .uri(let uri) = input.source, DatastorePath.isDatastoreURI(uri) else { continue }
                    let step = plan.steps[stepIndex].name
                    let path: String
                    do throws(Datastores.Failure) {
                        path = try datastores.inputLocation(of: uri)
                    } catch {
                        throw CoordinatorError(.invalidRequest, "step \(step), input \(input.name): \(error.message)")
                    }
                    let digest: String
                    if let known = digests[path] {
                        digest = known
                    } else {
                        digest = try Self.importDatastoreData(at: path, uri: uri, into: blobs, step: step, input: input.name)
                        digests[path] = digest
                    }
                    plan.steps[stepIndex].inputs[inputIndex].source = .localPath(path)
                    request.localInputs[step + "\u{1F}" + input.name] = digest
                }
            }
            request.planJSON = PlanJSON.encode(plan)
            return (request, plan)
        }.value
    }

    /// Stores the file or folder at `path` and returns its manifest's digest.
    private static func importDatastoreData(at path: String, uri: String, into blobs: BlobStore?, step: String, input: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CoordinatorError(.invalidRequest, "step \(step), input \(input): \(uri) does not exist (looked for \(path))")
        }
        do {
            let manifest = isDirectory.boolValue
                ? try Snapshot.folder(at: path, store: blobs, honoringIgnoreFiles: false)
                : try Snapshot.file(at: path, store: blobs)
            if let blobs, !blobs.contains(manifest.digest) {
                _ = try blobs.put(manifest)
            }
            return manifest.digest.hex
        } catch {
            throw CoordinatorError(.invalidRequest, "step \(step), input \(input): cannot read \(uri) (\(path)): \(error)")
        }
    }

    /// A dry run of a submission whose inputs may read datastores: their content is hashed (not
    /// stored) off the actor, so the decisions are those a submission would get.
    public nonisolated func dryRunReadingDatastores(_ request: DryRunRequest, plan: PipelinePlan? = nil) async throws -> DryRunReport {
        let decoded = if let plan { plan } else { try await decodedPlan(of: request.submission) }
        let (submission, resolvedPlan) = try await resolvingDatastoreInputs(request.submission, plan: decoded, storing: false)
        var resolved = request
        resolved.submission = submission
        return try await dryRun(resolved, plan: resolvedPlan)
    }

    /// Writes the outputs of `step` that name a datastore `path:` there, replacing what was at that
    /// path. Called when the step completes, whether it ran or was reused. The copies run off the
    /// actor (a large output must not hold up heartbeats); the run ends only once they are done
    /// (`exportEnded`). A failure is logged and recorded as the run's event; the step stays
    /// completed (its outputs are in the store).
    func exportToDatastores(runID: String, step: String, outputs: [String: String]) {
        guard let run = runs[runID], let planned = run.planned[step] else { return }
        let datastores = configuration.effectiveDatastores
        var copies: [(output: String, destination: String, manifest: TreeManifest)] = []
        for output in planned.outputs {
            guard let template = output.path, let digest = outputs[output.name] else { continue }
            do {
                let destination = try datastores.outputLocation(
                    of: template, jobName: Datastores.jobName(runID: runID, step: step), outputName: output.name,
                    pipelineDefault: run.plan.settings.defaultDatastore
                )
                let manifest = try treeManifest(digest: digest, what: "output \(output.name) of step \(step)")
                copies.append((output.name, destination, manifest))
            } catch {
                recordExport(runID: runID, step: step, output: output.name, outcome: .failure(error))
            }
        }
        guard !copies.isEmpty else { return }
        pendingExports[runID, default: 0] += 1
        let blobs = self.blobs
        Task.detached { [weak self] in
            var outcomes: [(output: String, result: Result<String, any Error>)] = []
            for copy in copies {
                do {
                    try Self.replace(copy.destination, with: copy.manifest, from: blobs)
                    outcomes.append((copy.output, .success(copy.destination)))
                } catch let damage as DamagedBlobError {
                    await self?.reportDamagedBlob(damage.digest.hex, foundBy: "copying output \(copy.output) of step \(step) to \(copy.destination)")
                    outcomes.append((copy.output, .failure(damage)))
                } catch {
                    outcomes.append((copy.output, .failure(error)))
                }
            }
            await self?.exportEnded(runID: runID, step: step, outcomes: outcomes)
        }
    }

    /// Records the copies of one step's outputs, and ends the run if it only waited for them.
    func exportEnded(runID: String, step: String, outcomes: [(output: String, result: Result<String, any Error>)]) {
        for outcome in outcomes {
            recordExport(runID: runID, step: step, output: outcome.output, outcome: outcome.result)
        }
        let left = pendingExports[runID, default: 1] - 1
        pendingExports[runID] = left > 0 ? left : nil
        if left <= 0, let deferred = deferredFinishes.removeValue(forKey: runID) {
            finish(runID: runID, status: deferred.status, reason: deferred.reason)
            bump()
        }
        makeDurable()
    }

    private func recordExport(runID: String, step: String, output: String, outcome: Result<String, any Error>) {
        switch outcome {
        case .success(let destination):
            logger.info("output written to datastore", metadata: ["run": "\(runID)", "step": "\(step)", "output": "\(output)", "path": "\(destination)"])
            batch.append(EventRecord(runID: runID, step: step, kind: "datastore_write", detail: "\(output) → \(destination)", at: wallNow()))
        case .failure(let error):
            let message = (error as? Datastores.Failure)?.message ?? "\(error)"
            logger.error("cannot write an output to its datastore", metadata: ["run": "\(runID)", "step": "\(step)", "output": "\(output)", "error": "\(message)"])
            batch.append(EventRecord(runID: runID, step: step, kind: "datastore_write_failed", detail: "\(output): \(message)", at: wallNow()))
        }
    }

    /// Materialises `manifest` beside `destination`, then swaps it in.
    nonisolated static func replace(_ destination: String, with manifest: TreeManifest, from blobs: BlobStore) throws {
        let fileManager = FileManager.default
        let parent = (destination as NSString).deletingLastPathComponent
        try fileManager.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let staging = parent + "/.conduit-" + UUID().uuidString
        defer { try? fileManager.removeItem(atPath: staging) }
        try Snapshot.materialize(manifest, from: blobs, at: staging, linking: false)
        // The copies are checked before they replace anything: a blob damaged on the coordinator's
        // disk must not reach a datastore (the caller quarantines it).
        for entry in manifest.entries {
            guard let digest = entry.digest else { continue }
            let copied = manifest.kind == .file ? staging : staging + "/" + entry.path
            if try SHA256Hasher.digest(ofFileAt: copied).digest != digest {
                throw DamagedBlobError(digest: digest)
            }
        }
        if fileManager.fileExists(atPath: destination) {
            try fileManager.removeItem(atPath: destination)
        }
        try fileManager.moveItem(atPath: staging, toPath: destination)
    }
}

