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
        let (withAssets, assetPlan) = try await resolvingRegisteredData(request, plan: decoded)
        let (resolved, resolvedPlan) = try await resolvingDatastoreInputs(withAssets, plan: assetPlan)
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
            var digests: [Datastores.Location: String] = [:]
            for stepIndex in plan.steps.indices {
                for inputIndex in plan.steps[stepIndex].inputs.indices {
                    let input = plan.steps[stepIndex].inputs[inputIndex]
                    guard case .uri(let uri) = input.source, DatastorePath.isDatastoreURI(uri) else { continue }
                    let step = plan.steps[stepIndex].name
                    let location: Datastores.Location
                    do throws(Datastores.Failure) {
                        location = try datastores.input(uri)
                    } catch {
                        throw CoordinatorError(.invalidRequest, "step \(step), input \(input.name): \(error.message)")
                    }
                    let digest: String
                    if let known = digests[location] {
                        digest = known
                    } else {
                        digest = try Self.importDatastoreData(at: location, uri: uri, into: blobs, step: step, input: input.name)
                        digests[location] = digest
                    }
                    plan.steps[stepIndex].inputs[inputIndex].source = .localPath(location.fullPath)
                    request.localInputs[step + "\u{1F}" + input.name] = digest
                }
            }
            request.planJSON = PlanJSON.encode(plan)
            return (request, plan)
        }.value
    }

    /// Stores (or, without `blobs`, only hashes) the file or folder at `location` and returns its
    /// manifest's digest. The datastore is read beneath its directory by descriptor: a symbolic link on
    /// the way or inside a folder is refused, naming it, so an input never reads outside its datastore.
    private static func importDatastoreData(
        at location: Datastores.Location, uri: String, into blobs: BlobStore?, step: String, input: String
    ) throws(CoordinatorError) -> String {
        let missing = CoordinatorError(
            .invalidRequest, "step \(step), input \(input): \(uri) does not exist (looked for \(location.fullPath))")
        func unreadable(_ error: ArtifactError) -> CoordinatorError {
            CoordinatorError(.invalidRequest, "step \(step), input \(input): cannot read \(uri): \(error.message)")
        }
        let root: ConfinedDirectory
        do throws(ArtifactError) {
            root = try ConfinedDirectory(path: location.directory, label: "datastore \(location.datastore)")
        } catch {
            throw error.errno == ENOENT ? missing : unreadable(error)
        }
        let digest: String?
        do throws(ArtifactError) {
            digest = try root.kind(of: location.path) == nil
                ? nil : try Snapshot.capture(location.path, beneath: root, store: blobs).digest.hex
        } catch {
            throw unreadable(error)
        }
        guard let digest else { throw missing }
        return digest
    }

    /// A dry run of a submission whose inputs may read datastores: their content is hashed (not
    /// stored) off the actor, so the decisions are those a submission would get.
    public nonisolated func dryRunReadingDatastores(_ request: DryRunRequest, plan: PipelinePlan? = nil) async throws -> DryRunReport {
        let decoded = if let plan { plan } else { try await decodedPlan(of: request.submission) }
        let (withAssets, assetPlan) = try await resolvingRegisteredData(request.submission, plan: decoded)
        let (submission, resolvedPlan) = try await resolvingDatastoreInputs(withAssets, plan: assetPlan, storing: false)
        var resolved = request
        resolved.submission = submission
        return try await dryRun(resolved, plan: resolvedPlan)
    }

    /// Writes the outputs of `step` that name a datastore `path:` there, beside what is already at
    /// that path (files of the same names are replaced, others kept). Called when the step completes, whether it ran or was reused. The copies run off the
    /// actor (a large output must not hold up heartbeats); the run ends only once they are done
    /// (`exportEnded`). A failure is logged and recorded as the run's event; the step stays
    /// completed (its outputs are in the store).
    func exportToDatastores(runID: String, step: String, outputs: [String: String]) {
        guard let run = runs[runID], let planned = run.planned[step] else { return }
        let datastores = configuration.effectiveDatastores
        var copies: [(output: String, location: Datastores.Location, manifest: TreeManifest)] = []
        for output in planned.outputs {
            guard let template = output.path, let digest = outputs[output.name] else { continue }
            do {
                let location = try datastores.output(
                    template, jobName: Datastores.jobName(runID: runID, step: step), outputName: output.name,
                    pipelineDefault: run.plan.settings.defaultDatastore
                )
                let manifest = try treeManifest(digest: digest, what: "output \(output.name) of step \(step)")
                copies.append((output.name, location, manifest))
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
                    try Self.writeToDatastore(copy.manifest, from: blobs, at: copy.location)
                    outcomes.append((copy.output, .success(copy.location.fullPath)))
                } catch let damage as DamagedBlobError {
                    await self?.reportDamagedBlob(damage.digest.hex, foundBy: "copying output \(copy.output) of step \(step) to \(copy.location.fullPath)")
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
            let message = (error as? Datastores.Failure)?.message ?? (error as? ArtifactError)?.message ?? "\(error)"
            logger.error("cannot write an output to its datastore", metadata: ["run": "\(runID)", "step": "\(step)", "output": "\(output)", "error": "\(message)"])
            batch.append(EventRecord(runID: runID, step: step, kind: "datastore_write_failed", detail: "\(output): \(message)", at: wallNow()))
        }
    }

    /// Writes `manifest` at `location`, beside what is already there: each file is written under a
    /// temporary name and renamed over its own name, so a re-run replaces the files it wrote and no
    /// other file is removed. No link in the datastore is followed (one on the way, or where a file or
    /// folder goes, is refused, naming it), so the write stays inside the datastore's directory, which
    /// is created when missing. Every blob is checked against its digest first: a blob damaged on the
    /// coordinator's disk never reaches a datastore (the caller quarantines it).
    nonisolated static func writeToDatastore(_ manifest: TreeManifest, from blobs: BlobStore, at location: Datastores.Location) throws {
        for entry in manifest.entries {
            guard let digest = entry.digest, blobs.contains(digest) else { continue }
            if try !blobs.verify(digest) { throw DamagedBlobError(digest: digest) }
        }
        let root = try ConfinedDirectory(path: location.directory, label: "datastore \(location.datastore)", creating: true)
        try Snapshot.write(manifest, from: blobs, beneath: root, at: location.path)
    }
}

