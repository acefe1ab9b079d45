import Foundation
import Protocol
import TestKit
import Testing
import Worker

/// Attempts that run in a Python environment and log with MLflow, through a real worker.
extension WorkerExecutionTests {
    func dispatch(_ id: String, _ command: String, environment setup: DispatchEnvironment) -> Message {
        coordinator.make(.dispatch(Dispatch(attemptID: id, runID: "r", step: id, command: [.text(command)], environmentSetup: setup)))
    }

    @Test func aStepRunsInItsVirtualEnvironmentAndItsMLflowMetricsAreReported() async throws {
        // Building the environment runs pip: on a busy machine this stand-in coordinator may answer
        // late, which is not what this test is about (silence has tests of its own).
        try await withWorker(slots: 1, silence: .seconds(300), prepare: { _ in }) { harness in
            let setup = DispatchEnvironment(label: "azureml:plain:1", kind: .virtualEnvironment, digest: String(repeating: "1", count: 64))
            let prefixFile = harness.directory + "/prefix"
            // Writes MLflow's file-store layout under $MLFLOW_TRACKING_URI, as mlflow.log_metric would, and
            // fails as MLflow 3.13 and later do unless the file store is allowed.
            let command = """
            python -c 'import sys; print(next(p for p in sys.path if "/envs/" in p))' > \(prefixFile) && python - <<'PY'
            import os
            if os.environ.get("MLFLOW_ALLOW_FILE_STORE") != "true":
                raise SystemExit("The filesystem tracking backend is in maintenance mode")
            root = os.environ["MLFLOW_TRACKING_URI"].removeprefix("file://")
            run = os.path.join(root, "0", "r1")
            os.makedirs(os.path.join(run, "metrics"))
            os.makedirs(os.path.join(run, "params"))
            open(os.path.join(run, "metrics", "accuracy"), "w").write("1 0.5 0\\n2 0.875 1\\n")
            open(os.path.join(run, "params", "alpha"), "w").write("0.25")
            PY
            """
            harness.network.coordinator.send(dispatch("env", command, environment: setup), to: harness.peer)
            var outcome: AttemptFinished?
            var metrics: [String: Double] = [:]
            var log = ""
            var uploaded: Set<String> = []
            while outcome == nil, let message = await harness.next() {
                switch message.payload {
                case .attemptFinished(let report): outcome = report
                case .metrics(let reported): metrics.merge(reported.values) { _, new in new }
                case .logChunk: log += String(decoding: message.bulk, as: UTF8.self)
                case .uploadBegin(let begin):
                    // The MLflow store is kept: the coordinator takes its blobs.
                    let reply: Payload = begin.size == 0
                        ? .uploadStored(UploadStored(blob: begin.blob, ok: true))
                        : .uploadCredit(UploadCredit(blob: begin.blob, offset: 0, credit: 1000))
                    harness.network.coordinator.send(coordinator.make(reply), to: harness.peer)
                case .heartbeat(let heartbeat):
                    // Word from the coordinator: building the environment can outlast the worker's
                    // 10 s silence timeout, which would interrupt the uploads that follow.
                    harness.network.coordinator.send(coordinator.make(.heartbeat(heartbeat)), to: harness.peer)
                case .uploadChunk(let chunk):
                    uploaded.insert(chunk.blob)
                    harness.network.coordinator.send(coordinator.make(.uploadStored(UploadStored(blob: chunk.blob, ok: true))), to: harness.peer)
                default: break
                }
            }
            #expect(outcome?.outcome == .succeeded, "\(String(describing: outcome)) \(log)")
            let tracking = try #require(outcome?.tracking, "the MLflow store is kept with the attempt")
            #expect(uploaded.contains(tracking), "its manifest was uploaded before the report")
            let prefix = try String(contentsOfFile: prefixFile, encoding: .utf8)
            #expect(prefix.hasPrefix(harness.directory + "/envs/" + setup.digest + "/lib/"), "its packages are the environment's: \(prefix)")
            #expect(metrics == ["accuracy": 0.875, "params.alpha": 0.25])
            #expect(log.contains("building the environment azureml:plain:1"), "\(log)")
        }
    }

    @Test func anEnvironmentThatCannotBeBuiltFailsTheAttemptNamingIt() async throws {
        try await withWorker(slots: 1, prepare: { _ in }) { harness in
            let setup = DispatchEnvironment(label: "azureml:future:1", kind: .virtualEnvironment, python: "9.99", digest: String(repeating: "2", count: 64))
            harness.network.coordinator.send(dispatch("bad", "echo never", environment: setup), to: harness.peer)
            var outcome: AttemptFinished?
            while outcome == nil, let message = await harness.next() {
                if case .attemptFinished(let report) = message.payload { outcome = report }
            }
            let report = try #require(outcome)
            #expect(report.outcome == .failed)
            #expect(report.message?.contains("azureml:future:1") == true)
            #expect(report.message?.contains("python9.99") == true)
        }
    }
}
