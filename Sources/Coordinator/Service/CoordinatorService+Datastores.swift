import Artifacts
import Foundation
import Protocol
import Spec
import Store

extension CoordinatorService {
    /// Submits a run whose inputs may read datastores: those are checked first, off the actor (see
    /// `checkingDatastoreInputs`), then the run starts as `submit` does. Their content is read when
    /// each reading step becomes ready (see `readDatastoreInputs`), so that an earlier step of the
    /// run may write it. `plan`, when given, is what `request.planJSON` encodes.
    public nonisolated func submitReadingDatastores(_ request: SubmitRequest, plan: PipelinePlan? = nil) async throws -> String {
        let decoded = if let plan { plan } else { try await decodedPlan(of: request) }
        let (withAssets, assetPlan) = try await resolvingRegisteredData(request, plan: decoded)
        _ = try await checkingDatastoreInputs(of: assetPlan, hashing: false)
        return try await submit(withAssets, plan: assetPlan)
    }

    /// Checks every data input read from a datastore (`azureml://datastores/NAME/paths/...`): the
    /// datastore is configured, the path stays inside it, no link on the way leaves it, and the path
    /// exists or an output of the plan writes it (its `path:` names it or a folder above it). A path
    /// that is missing and that no step writes is refused here, naming the step and the input:
    /// nothing could make it exist before the step runs.
    ///
    /// With `hashing` (a dry run) the content of each path that exists now is hashed, not stored:
    /// the result maps `"STEP\u{1F}INPUT"` to what the dry run predicts with. Runs off the actor:
    /// hashing a large dataset must not hold up heartbeats.
    public nonisolated func checkingDatastoreInputs(
        of plan: PipelinePlan, hashing: Bool
    ) async throws -> [String: DryRunPlanner.DatastoreRead] {
        let reads = plan.steps.contains { step in step.inputs.contains { $0.datastoreURI != nil } }
        guard reads else { return [:] }
        let datastores = configuration.effectiveDatastores
        return try await Task.detached {
            var found: [String: DryRunPlanner.DatastoreRead] = [:]
            var known: [Datastores.Location: DryRunPlanner.DatastoreRead] = [:]
            for step in plan.steps {
                for input in step.inputs {
                    guard let uri = input.datastoreURI else { continue }
                    let location: Datastores.Location
                    do throws(Datastores.Failure) {
                        location = try datastores.input(uri)
                    } catch {
                        throw CoordinatorError(.invalidRequest, "step \(step.name), input \(input.name): \(error.message)")
                    }
                    if let read = known[location] {
                        found[step.name + "\u{1F}" + input.name] = read
                        continue
                    }
                    let writers = datastores.writers(of: location, in: plan)
                    let digest: String?
                    do throws(CoordinatorError) {
                        digest = try Self.importDatastoreData(at: location, uri: uri, into: nil, hashing: hashing, step: step.name, input: input.name)
                    } catch {
                        // Missing at submission: refused only when no step of the run writes it.
                        guard error.code == .notFound, !writers.isEmpty else {
                            if error.code == .notFound {
                                throw CoordinatorError(
                                    .invalidRequest,
                                    error.message + ", and no step of this pipeline writes it (no output's path: names it or a folder above it); create it, or write it from an earlier step")
                            }
                            throw error
                        }
                        digest = nil
                    }
                    let read: DryRunPlanner.DatastoreRead = digest.map { .present(digest: $0) } ?? .absent(writers: writers.map(\.step))
                    known[location] = read
                    found[step.name + "\u{1F}" + input.name] = read
                }
            }
            return found
        }.value
    }

    /// Stores (or, without `blobs`, only hashes) the file or folder at `location` and returns its
    /// manifest's digest; with neither `blobs` nor `hashing`, only checks that it is there and
    /// returns an empty string. The datastore is read beneath its directory by descriptor: a
    /// symbolic link on the way or inside a folder is refused, naming it, so an input never reads
    /// outside its datastore.
    ///
    /// - Throws: `notFound` when nothing is at the path (the message names the URI and the local
    ///   path), `invalidRequest` when it cannot be read.
    private static func importDatastoreData(
        at location: Datastores.Location, uri: String, into blobs: BlobStore?, hashing: Bool = true, step: String, input: String
    ) throws(CoordinatorError) -> String {
        let missing = CoordinatorError(
            .notFound, "step \(step), input \(input): \(uri) does not exist (looked for \(location.fullPath))")
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
            let kind = try root.kind(of: location.path)
            if kind == nil {
                digest = nil
            } else if blobs == nil, !hashing, kind == .regularFile || kind == .directory {
                digest = ""
            } else {
                // A link or a special file at the path itself is refused by the capture, naming it.
                digest = try Snapshot.capture(location.path, beneath: root, store: blobs).digest.hex
            }
        } catch {
            throw unreadable(error)
        }
        guard let digest else { throw missing }
        return digest
    }

    /// A dry run of a submission whose inputs may read datastores: they are checked as a
    /// submission checks them, and the content of those that exist now is hashed (not stored) off
    /// the actor. The report says that they are read at run time.
    public nonisolated func dryRunReadingDatastores(_ request: DryRunRequest, plan: PipelinePlan? = nil) async throws -> DryRunReport {
        let decoded = if let plan { plan } else { try await decodedPlan(of: request.submission) }
        let (withAssets, assetPlan) = try await resolvingRegisteredData(request.submission, plan: decoded)
        let reads = try await checkingDatastoreInputs(of: assetPlan, hashing: true)
        var resolved = request
        resolved.submission = withAssets
        return try await dryRun(resolved, plan: assetPlan, datastoreReads: reads)
    }

    // MARK: Reading datastore inputs when a step is ready

    /// Whether `step`, ready with `inputs`, still has datastore inputs to read (their values are
    /// still the URIs).
    func hasUnreadDatastoreInputs(runID: String, step: String, inputs: [String: String]) -> Bool {
        guard let planned = runs[runID]?.planned[step] else { return false }
        return planned.inputs.contains { input in input.datastoreURI.map { inputs[input.name] == $0 } ?? false }
    }

    /// Snapshots the datastore inputs of a ready step into the artifact store, off the actor, then
    /// feeds their digests to the run machine (`inputsRead`), which consults the cache with them.
    /// While outputs of the run are still being copied to datastores (an upstream step may have
    /// written the very path), the read waits for them (see `exportEnded`). A path missing now, or
    /// unreadable, fails the step, naming the datastore, the path and the steps that should have
    /// written it.
    func readDatastoreInputs(runID: String, step: String) {
        guard let run = runs[runID], let planned = run.planned[step], let state = run.machine.states[step],
              state.resolving, state.status == .queued,
              let node = run.machine.nodes.first(where: { $0.name == step }) else { return }
        if pendingExports[runID, default: 0] > 0 {
            if !readsAwaitingExports[runID, default: []].contains(step) { readsAwaitingExports[runID, default: []].append(step) }
            return
        }
        let values = run.machine.inputs(of: node)
        var unread: [(input: String, uri: String)] = []
        for input in planned.inputs {
            if let uri = input.datastoreURI, values[input.name] == uri { unread.append((input.name, uri)) }
        }
        guard !unread.isEmpty else { return }
        let datastores = configuration.effectiveDatastores
        let blobs = self.blobs
        let plan = run.plan
        Task.detached { [weak self] in
            var result: Result<[String: String], CoordinatorError>
            do throws(CoordinatorError) {
                var digests: [String: String] = [:]
                for read in unread {
                    digests[read.input] = try Self.snapshotDatastoreInput(
                        read.uri, step: step, input: read.input, plan: plan, datastores: datastores, blobs: blobs)
                }
                result = .success(digests)
            } catch {
                result = .failure(error)
            }
            await self?.datastoreInputsRead(runID: runID, step: step, uris: Dictionary(uniqueKeysWithValues: unread.map { ($0.input, $0.uri) }), result: result)
        }
    }

    /// Stores the content at `uri` and returns its digest; a missing path names what should have
    /// written it.
    private static func snapshotDatastoreInput(
        _ uri: String, step: String, input: String, plan: PipelinePlan, datastores: Datastores, blobs: BlobStore
    ) throws(CoordinatorError) -> String {
        let location: Datastores.Location
        do throws(Datastores.Failure) {
            location = try datastores.input(uri)
        } catch {
            throw CoordinatorError(.invalidRequest, "input \(input): \(error.message)")
        }
        do throws(CoordinatorError) {
            return try importDatastoreData(at: location, uri: uri, into: blobs, step: step, input: input)
        } catch where error.code == .notFound {
            let writers = datastores.writers(of: location, in: plan).filter { $0.step != step }
            let why = if writers.isEmpty {
                "no step of this pipeline writes it, and it was removed after the run was submitted"
            } else {
                "step\(writers.count == 1 ? "" : "s") " + writers.map { "\($0.step) (output \($0.output), path: \($0.path))" }.joined(separator: ", ")
                    + " should have written it; see \(writers.count == 1 ? "its" : "their") datastore_write events"
            }
            throw CoordinatorError(
                .invalidRequest,
                "input \(input): \(uri) does not exist when the step is ready (datastore \(location.datastore), looked for \(location.fullPath)); \(why)")
        }
    }

    /// Back on the actor with a step's datastore inputs read: the run machine gets their digests, or
    /// the step fails with the reason. Ignored when the step is no longer waiting for them (the run
    /// was canceled meanwhile).
    func datastoreInputsRead(runID: String, step: String, uris: [String: String], result: Result<[String: String], CoordinatorError>) {
        guard let state = runs[runID]?.machine.states[step], state.resolving, state.status == .queued else { return }
        let now = wallNow()
        switch result {
        case .success(let digests):
            for (input, digest) in digests.sorted(by: { $0.key < $1.key }) {
                let uri = uris[input] ?? ""
                logger.info("datastore input read", metadata: ["run": "\(runID)", "step": "\(step)", "input": "\(input)", "uri": "\(uri)", "digest": "\(digest)"])
                batch.append(EventRecord(runID: runID, step: step, kind: "datastore_read", detail: "\(input) ← \(uri) (\(digest.prefix(12)))", at: now))
            }
            apply(.inputsRead(step: step, inputs: digests), runID: runID)
        case .failure(let error):
            logger.error("cannot read a datastore input", metadata: ["run": "\(runID)", "step": "\(step)", "error": "\(error.message)"])
            batch.append(EventRecord(runID: runID, step: step, kind: "datastore_read_failed", detail: error.message, at: now))
            apply(.failed(step: step, status: .failed, reason: error.message), runID: runID)
        }
        makeDurable()
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
        if left <= 0, let waiting = readsAwaitingExports.removeValue(forKey: runID) {
            for step in waiting { readDatastoreInputs(runID: runID, step: step) }
        }
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

