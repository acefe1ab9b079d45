import Artifacts
import Foundation
import Protocol
import Spec

extension WorkerService {
    /// Runs one dispatched attempt from start to report.
    func execute(_ dispatch: Dispatch) async {
        let started = Self.now()
        let directory = configuration.workDirectory + "/attempts/" + Self.safeName(dispatch.attemptID)
        var report: AttemptFinished
        do {
            report = try await runAttempt(dispatch, in: directory, started: started)
        } catch {
            logger.error("attempt could not run: \(error)", metadata: ["attempt": "\(dispatch.attemptID)"])
            report = AttemptFinished(attemptID: dispatch.attemptID, outcome: .workerError, startedAt: started, endedAt: Self.now(), message: "\(error)")
        }
        processes[dispatch.attemptID] = nil
        environmentLogSequence[dispatch.attemptID] = nil
        // The core decides what is reported (fenced, canceled, handed back) and starts the next.
        apply(core.on(.executionEnded(report, coreNow())))
        if !configuration.keepAttemptDirectories {
            // Emptied now, while the coordinator records the result: the next attempt reuses
            // these directories (a few renames, no new inodes; see DirectoryPool).
            directories.recycle(directory)
        }
    }

    private func runAttempt(_ dispatch: Dispatch, in directory: String, started: Int64) async throws -> AttemptFinished {
        let fileManager = FileManager.default
        directories.recycle(directory)  // leftovers of an earlier worker process, if any
        // Directories come from the worker's pool of spares and only when needed: see DirectoryPool.
        // The command runs in `code/` (its snapshot) or an empty `work/`, never in the attempt
        // directory itself: declared outputs (`outputs/NAME`), the metrics file and the MLflow store
        // stay outside its working directory, so its own `./outputs` is its own.
        let workingDirectory: String
        try directories.makeDirectory(directory)
        if dispatch.outputs.contains(where: { !$0.isDefaultArtifacts }) {
            try directories.makeDirectory(directory + "/outputs")
        }
        if let code = dispatch.code {
            guard let digest = Digest(hex: code) else { throw WorkerError(.workspace, "code digest \(code) is not valid") }
            let manifest = try await ensureArtifact(digest, for: dispatch.attemptID)
            workingDirectory = directory + "/code"
            try Snapshot.materialize(manifest, from: cache, at: workingDirectory)
        } else {
            workingDirectory = directory + "/work"
            try directories.makeDirectory(workingDirectory)
        }
        // As on Azure ML, `./outputs` and `./logs` exist when the command starts (one the code
        // snapshot already has, whatever it is, is left as it is).
        for name in ["outputs", "logs"] {
            let path = workingDirectory + "/" + name
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
                throw WorkerError(.workspace, "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        var inputPaths: [String: String] = [:]
        for input in dispatch.inputs {
            if let uri = input.uri {
                inputPaths[input.name] = uri
                continue
            }
            guard let text = input.artifact, let digest = Digest(hex: text) else { continue }
            inputPaths[input.name] = try await checkout(digest, for: dispatch.attemptID)
        }
        var outputPaths: [String: String] = [:]
        for output in dispatch.outputs {
            if output.isDefaultArtifacts {
                // Assembled from the working directory once the command has succeeded.
                outputPaths[output.name] = directory + "/default-artifacts"
                continue
            }
            let path = directory + "/outputs/" + Self.safeName(output.name)
            if output.kind == .folder {
                try directories.makeDirectory(path)
            }
            outputPaths[output.name] = path
        }
        let template = CommandTemplate(segments: dispatch.command.map(Self.segment))
        let rendered: CommandTemplate.Rendered
        do {
            rendered = try template.render(inputPaths: inputPaths, outputPaths: outputPaths)
        } catch {
            // The command cannot take its values safely (its quoting, or a path inside arithmetic):
            // a failure of the step, not of this worker.
            return AttemptFinished(
                attemptID: dispatch.attemptID, outcome: .failed, startedAt: started, endedAt: Self.now(),
                message: "the command cannot be rendered: \(error.message)"
            )
        }
        var environment = baseEnvironment
        environment.merge(dispatch.environment) { _, new in new }
        environment.merge(rendered.environment) { _, new in new }
        let metricsFile = directory + "/metrics.jsonl"
        environment["CONDUIT_METRICS_FILE"] = metricsFile
        environment.merge(Self.gpuEnvironment(dispatch.gpuDevices)) { _, new in new }
        // MLflow logging lands in the attempt's own file store, read as the step runs (TrackingCollector).
        environment.merge(MLflowFileStore.environment(attemptDirectory: directory, stepEnvironment: dispatch.environment)) { _, new in new }
        if let setup = dispatch.environmentSetup {
            let attemptID = dispatch.attemptID
            let prepared = await environmentBuilds.prepare(setup) { [weak self] text in
                await self?.sendEnvironmentLog(attemptID: attemptID, text: text)
            }
            // The step writes (pip install) into a layer of its own, never into the shared environment.
            let layered: Result<AttemptLayer?, EnvironmentBuilds.BuildFailure> = switch prepared {
            case .success(let prepared):
                await AttemptLayer.create(over: prepared, in: directory, label: setup.label, baseEnvironment: baseEnvironment)
            case .failure(let failure):
                .failure(failure)
            }
            switch layered {
            case .success(let layer):
                if let layer { environment = layer.applied(to: environment) }
            case .failure(let failure):
                environmentLogSequence[attemptID] = nil
                // The step's environment is wrong (a requirement pip cannot install, a missing
                // interpreter): a step failure, not one of this worker.
                return AttemptFinished(attemptID: attemptID, outcome: .failed, startedAt: started, endedAt: Self.now(), message: failure.message)
            }
        }

        guard core.mayLaunch(dispatch.attemptID) else {
            return AttemptFinished(attemptID: dispatch.attemptID, outcome: .canceled, startedAt: started, endedAt: Self.now(), message: "canceled before it started")
        }
        let process = try ChildProcess.launch(command: rendered.command, workingDirectory: workingDirectory, environment: environment)
        processes[dispatch.attemptID] = process
        logger.debug("started", metadata: ["attempt": "\(dispatch.attemptID)", "pid": "\(process.pid)"])

        let firstSequence = environmentLogSequence.removeValue(forKey: dispatch.attemptID) ?? 0
        trackers[dispatch.attemptID] = TrackingReader(metricsFile: metricsFile, mlruns: directory + "/mlruns")
        let (termination, timedOut) = await supervise(
            process, attemptID: dispatch.attemptID, timeout: dispatch.timeoutSeconds, firstSequence: firstSequence
        )
        let ended = Self.now()
        await sendTracking(attemptID: dispatch.attemptID, final: true)
        if core.wasCanceled(dispatch.attemptID) {
            return AttemptFinished(attemptID: dispatch.attemptID, outcome: .canceled, exitCode: termination.exitCode, signal: termination.signal, startedAt: started, endedAt: ended, message: "canceled")
        }
        if timedOut {
            return AttemptFinished(
                attemptID: dispatch.attemptID, outcome: .timedOut, exitCode: termination.exitCode, signal: termination.signal,
                startedAt: started, endedAt: ended, message: "timed out after \(dispatch.timeoutSeconds ?? 0) s (limits.timeout); its process group was killed"
            )
        }
        guard termination.exitCode == 0 else {
            let message = termination.exitCode.map { "exit code \($0)" } ?? "killed by signal \(termination.signal ?? 0)"
            return AttemptFinished(attemptID: dispatch.attemptID, outcome: .failed, exitCode: termination.exitCode, signal: termination.signal, startedAt: started, endedAt: ended, message: message)
        }
        var outputs: [String: String] = [:]
        for output in dispatch.outputs {
            let path = outputPaths[output.name]!
            if output.isDefaultArtifacts {
                try collectDefaultArtifacts(from: workingDirectory, into: path)
            }
            let manifest: TreeManifest
            if output.kind == .file {
                guard fileManager.fileExists(atPath: path) else {
                    return AttemptFinished(
                        attemptID: dispatch.attemptID, outcome: .failed, exitCode: 0, startedAt: started, endedAt: ended,
                        message: "output \(output.name) is a uri_file but the command wrote no file at ${{outputs.\(output.name)}}"
                    )
                }
            }
            makeRoomForOutput(at: path)  // cache limit: see WorkerService+Cache
            switch await Self.snapshotOutputAside(at: path, isFile: output.kind == .file, into: cache) {
            case .success(let snapshot):
                admitOutput(snapshot, attemptID: dispatch.attemptID)  // pinned until acknowledged
                // While the snapshot ran off the actor, an eviction may have taken a blob it found
                // already cached (and so did not copy); now that every blob is pinned, one more
                // snapshot on the actor puts such a blob back.
                if !Snapshot.missingBlobs(of: snapshot, in: cache).isEmpty || !cache.contains(snapshot.digest) {
                    let again = try Self.snapshotOutput(at: path, isFile: output.kind == .file, into: cache).get()
                    admitOutput(again, attemptID: dispatch.attemptID)
                    manifest = again
                } else {
                    manifest = snapshot
                }
            case .failure(let error) where [.symlinkRejected, .unsupportedFileType, .unsafePath].contains(error.code):
                // A link that leaves the output (or any link as a uri_file output) is the step's fault:
                // the attempt fails with the reason; it is not retried as an infrastructure failure.
                return AttemptFinished(
                    attemptID: dispatch.attemptID, outcome: .failed, exitCode: 0, startedAt: started, endedAt: ended,
                    message: "output \(output.name) cannot be stored: \(error.message)"
                )
            case .failure(let error):
                throw error
            }
            for blob in Set(manifest.entries.compactMap(\.digest)).sorted() {
                try await upload(blob, attemptID: dispatch.attemptID)
            }
            try await upload(manifest.digest, attemptID: dispatch.attemptID)
            outputs[output.name] = manifest.digest.hex
        }
        let tracking = try await storeMLflowStore(at: directory + "/mlruns", attemptID: dispatch.attemptID)
        return AttemptFinished(
            attemptID: dispatch.attemptID, outcome: .succeeded, exitCode: 0, outputs: outputs, startedAt: started, endedAt: ended, tracking: tracking?.hex
        )
    }

    /// Makes `path` the step's default artifacts: a folder holding the `outputs/` and `logs/` the
    /// command left in `workingDirectory`, moved there as they are (links and all: the snapshot
    /// refuses a link, as in any output). One the command did not make is an empty folder.
    private func collectDefaultArtifacts(from workingDirectory: String, into path: String) throws {
        if access(path, F_OK) != 0 { try directories.makeDirectory(path) }
        for name in ["outputs", "logs"] {
            let source = workingDirectory + "/" + name
            let target = path + "/" + name
            var info = stat()
            if lstat(source, &info) == 0 {
                guard rename(source, target) == 0 else {
                    throw WorkerError(.workspace, "cannot move \(source) to \(target): \(String(cString: strerror(errno)))")
                }
            } else if access(target, F_OK) != 0 {
                try directories.makeDirectory(target)
            }
        }
    }

    /// Keeps a succeeded step's MLflow store (its runs' artifacts and logged models) like an output:
    /// snapshotted into the cache and uploaded. Nil when the step did not log with MLflow; a store
    /// that cannot be snapshotted (a link out of it) is left out with a warning, and the step still
    /// succeeds.
    private func storeMLflowStore(at path: String, attemptID: String) async throws -> Digest? {
        guard access(path, F_OK) == 0 else { return nil }
        makeRoomForOutput(at: path)
        let manifest: TreeManifest
        switch await Self.snapshotOutputAside(at: path, isFile: false, into: cache) {
        case .success(let snapshot):
            admitOutput(snapshot, attemptID: attemptID)
            if !Snapshot.missingBlobs(of: snapshot, in: cache).isEmpty || !cache.contains(snapshot.digest) {
                let again = try Self.snapshotOutput(at: path, isFile: false, into: cache).get()
                admitOutput(again, attemptID: attemptID)
                manifest = again
            } else {
                manifest = snapshot
            }
        case .failure(let error):
            logger.warning("the step's MLflow store is not kept: \(error.message)", metadata: ["attempt": "\(attemptID)"])
            return nil
        }
        for blob in Set(manifest.entries.compactMap(\.digest)).sorted() {
            try await upload(blob, attemptID: attemptID)
        }
        try await upload(manifest.digest, attemptID: attemptID)
        return manifest.digest
    }

    /// ``snapshotOutput(at:isFile:into:)`` on a global dispatch queue, off the actor and off the
    /// cooperative pool: hashing and copying a large output takes seconds (a gigabyte, several), and
    /// the actor must go on sending heartbeats and serving transfers meanwhile.
    private static func snapshotOutputAside(at path: String, isFile: Bool, into store: BlobStore) async -> Result<TreeManifest, ArtifactError> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: snapshotOutput(at: path, isFile: isFile, into: store))
            }
        }
    }

    /// Snapshots a finished step's output into `store`, never following a link out of it.
    private static func snapshotOutput(at path: String, isFile: Bool, into store: BlobStore) -> Result<TreeManifest, ArtifactError> {
        Result { () throws(ArtifactError) -> TreeManifest in
            isFile
                ? try Snapshot.file(at: path, store: store, followingLinks: false)
                : try Snapshot.folder(at: path, store: store, honoringIgnoreFiles: false)
        }
    }

    private enum Supervision: Sendable {
        case exited(ProcessTermination)
        case outputClosed
        case timedOut
        case idle
    }

    /// Tells the coordinator the step is running (see `WorkerConfiguration.startedReportDelay`).
    private func reportStarted(_ attemptID: String) {
        guard core.holds(attemptID) else { return }
        send(.attemptStarted(AttemptStarted(attemptID: attemptID)))
    }

    /// Streams the process's output as logs, enforces the timeout, and returns how it ended.
    private func supervise(_ process: ChildProcess, attemptID: String, timeout: Int?, firstSequence: Int = 0) async -> (ProcessTermination, Bool) {
        let grace = configuration.killGracePeriod
        return await withTaskGroup(of: Supervision.self) { group in
            group.addTask { .exited(await process.wait()) }
            let startedDelay = configuration.startedReportDelay
            group.addTask { [weak self] in
                do {
                    try await Task.sleep(for: startedDelay)
                } catch {
                    return .idle
                }
                await self?.reportStarted(attemptID)
                return .idle
            }
            group.addTask { [weak self] in
                var sequence = firstSequence
                for await (kind, bytes) in process.output {
                    await self?.sendLog(attemptID: attemptID, stream: kind == .stdout ? .stdout : .stderr, sequence: sequence, bytes: bytes)
                    sequence += 1
                }
                return .outputClosed
            }
            let trackingInterval = configuration.trackingInterval
            group.addTask { [weak self] in
                // What the step tracks reaches the coordinator while it runs.
                while true {
                    do {
                        try await Task.sleep(for: trackingInterval)
                    } catch {
                        return .idle
                    }
                    await self?.sendTracking(attemptID: attemptID, final: false)
                }
            }
            if let timeout, timeout > 0 {
                group.addTask {
                    do {
                        try await Task.sleep(for: .seconds(timeout))
                    } catch {
                        return .idle
                    }
                    process.terminateGroup(gracePeriod: grace)
                    return .timedOut
                }
            }
            var termination: ProcessTermination?
            var outputClosed = false
            var timedOut = false
            for await event in group {
                switch event {
                case .exited(let value): termination = value
                case .outputClosed: outputClosed = true
                case .timedOut: timedOut = true
                case .idle: break
                }
                if termination != nil && outputClosed {
                    group.cancelAll()
                    break
                }
            }
            return (termination ?? ProcessTermination(exitCode: nil, signal: 9), timedOut)
        }
    }

    func sendLog(attemptID: String, stream: LogStream, sequence: Int, bytes: [UInt8]) {
        send(.logChunk(LogChunk(attemptID: attemptID, stream: stream, sequence: sequence)), bulk: bytes)
    }

    /// Output of an environment build, in the attempt's log (stderr) before its process's output.
    func sendEnvironmentLog(attemptID: String, text: String) {
        guard !text.isEmpty else { return }
        let sequence = environmentLogSequence[attemptID, default: 0]
        environmentLogSequence[attemptID] = sequence + 1
        sendLog(attemptID: attemptID, stream: .stderr, sequence: sequence, bytes: Array(text.utf8))
    }

    /// Sends what the step tracked since the last time: values it appended to
    /// `$CONDUIT_METRICS_FILE` and what it logged with MLflow (see `TrackingCollector`), read off the
    /// actor. `final`: the step has ended; everything left is sent (at most 256 reads of 4 MiB per
    /// file: a process that escaped the step and goes on writing cannot hold the report back) and
    /// the attempt's reader is dropped.
    func sendTracking(attemptID: String, final: Bool) async {
        guard let reader = trackers[attemptID] else { return }
        var reads = 0
        repeat {
            if let metrics = await reader.poll(attemptID: attemptID, now: Self.now(), final: final) { sendInPieces(metrics) }
            reads += 1
        } while final && reader.more && reads < 256
        if final { trackers[attemptID] = nil }
    }

    /// Sends one poll's metrics, at most 5,000 points per message.
    private func sendInPieces(_ metrics: Metrics) {
        var first = metrics.firstPoint
        let starts = Array(stride(from: 0, to: max(metrics.points.count, 1), by: 5000))
        for (index, start) in starts.enumerated() {
            let points = Array(metrics.points[start..<min(start + 5000, metrics.points.count)])
            var values: [String: Double] = [:]
            for point in points { values[point.key] = point.value }
            if index == starts.count - 1 { values.merge(metrics.values) { _, last in last } }
            send(.metrics(Metrics(
                attemptID: metrics.attemptID, values: values, firstPoint: first, points: points,
                params: index == 0 ? metrics.params : [], tags: index == 0 ? metrics.tags : []
            )))
            first += points.count
        }
    }

    /// The attempt sees exactly the GPUs leased to it, numbered as NVML and `nvidia-smi` number
    /// them (PCI bus order), and none when it was leased none, whatever its environment says.
    static func gpuEnvironment(_ devices: [Int]) -> [String: String] {
        let list = devices.map(String.init).joined(separator: ",")
        return [
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "CUDA_VISIBLE_DEVICES": list,
            // For steps that start containers with the NVIDIA runtime.
            "NVIDIA_VISIBLE_DEVICES": devices.isEmpty ? "none" : list,
        ]
    }

    static func segment(_ piece: CommandPiece) -> CommandTemplate.Segment {
        switch piece {
        case .text(let text): .text(text)
        case .value(let value): .value(value)
        case .inputPath(let name): .inputPath(name)
        case .outputPath(let name): .outputPath(name)
        }
    }

    /// A file-name-safe form of an id or name (no `/`, never `.` or `..`).
    public static func safeName(_ name: String) -> String {
        let mapped = name.map { character -> Character in
            character.isLetter || character.isNumber || character == "-" || character == "_" || character == "." ? character : "_"
        }
        let result = String(mapped)
        return result.isEmpty || result == "." || result == ".." ? "_" : result
    }

    static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
