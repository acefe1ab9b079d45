import Foundation
import TestKit
import Testing

/// Steps go to the right machine: a high-memory CPU worker and a GPU worker with simulated
/// devices, as separate processes, with `compute:` mapped to labels by the coordinator's
/// `--config` file.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PlacementIntegrationTests {
    /// A coordinator whose configuration maps `gpu` to label `gpu` with one GPU, a worker
    /// `highmem` labelled `cpu-highmem`, and a worker `gpubox` labelled `gpu` with two simulated
    /// GPUs.
    func withPlacementCluster(_ body: (Cluster) async throws -> Void) async throws {
        let cluster = try Cluster()
        do {
            let config = cluster.directory + "/conduit.yml"
            try "compute:\n  gpu: {label: gpu, gpu: 1}\n".write(toFile: config, atomically: true, encoding: .utf8)
            cluster.coordinatorOptions = ["--config", config]
            try await cluster.start(workers: 0)
            try await cluster.addWorker(name: "highmem", slots: 2, labels: ["cpu-highmem"])
            try await cluster.addWorker(name: "gpubox", slots: 2, labels: ["gpu"], environment: ["CONDUIT_SIMULATED_GPUS": "2"])
            try await body(cluster)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test(.enabled(if: Fixtures.acceptanceDirectory != nil))
    func heartPrepsOnTheCPUWorkerAndTrainsOnTheGPUWorker() async throws {
        try await withPlacementCluster { cluster in
            let workers = try await cluster.cli(["workers", "--json"])
            let list = try #require(try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]])
            let gpubox = try #require(list.first { $0["id"] as? String == "gpubox" })
            let gpus = ((gpubox["capabilities"] as? [String: Any])?["gpus"] as? [[String: Any]]) ?? []
            #expect(gpus.count == 2 && gpus.allSatisfy { $0["simulated"] as? Bool == true }, "\(workers.stdout)")
            let human = try await cluster.cli(["workers"])
            #expect(human.stdout.contains("(simulated)") && human.stdout.contains("GPU 1"), "\(human.stdout)")

            let pipeline = (Fixtures.acceptanceDirectory ?? "") + "/heart/pipeline.yml"
            let result = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = try result.json()
            let byName = Dictionary(uniqueKeysWithValues: ((summary["steps"] as? [[String: Any]]) ?? []).map { ($0["name"] as? String ?? "", $0) })
            #expect(byName["prep"]?["worker"] as? String == "highmem", "\(summary)")
            #expect(byName["evaluate"]?["worker"] as? String == "highmem", "\(summary)")
            #expect(byName["train"]?["worker"] as? String == "gpubox", "\(summary)")
            #expect(byName["train"]?["gpus"] as? [Int] == [0], "train's attempt was leased GPU 0: \(summary)")
            #expect(byName["prep"]?["gpus"] == nil)
            #expect(byName["train"]?["gpusSimulated"] as? Bool == true)
            #expect(result.stderr.contains("on gpubox (GPU 0, simulated)"), "\(result.stderr)")
        }
    }

    @Test func eachAttemptSeesOnlyItsGPUsAndAStepNoWorkerFitsWaitsWithAReason() async throws {
        try await withPlacementCluster { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            let pipeline = work + "/pipeline.yml"
            try """
                type: pipeline
                jobs:
                  both:
                    command: echo "devices=[$CUDA_VISIBLE_DEVICES] order=$CUDA_DEVICE_ORDER"
                    compute: azureml:gpu
                    resources: {gpu: 2}
                  none:
                    command: echo "devices=[$CUDA_VISIBLE_DEVICES] nvidia=$NVIDIA_VISIBLE_DEVICES"
                    compute: azureml:gpu
                    resources: {gpu: 0}
                """.write(toFile: pipeline, atomically: true, encoding: .utf8)
            let result = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let run = try #require(try result.json()["run"] as? String)
            let both = try await cluster.cli(["logs", run, "both"])
            #expect(both.stdout.contains("devices=[0,1] order=PCI_BUS_ID"), "\(both.stdout)")
            let none = try await cluster.cli(["logs", run, "none"])
            #expect(none.stdout.contains("devices=[] nvidia=none"), "\(none.stdout)")

            try """
                type: pipeline
                jobs:
                  huge:
                    command: echo never
                    compute: azureml:gpu
                    resources: {gpu: 4}
                """.write(toFile: pipeline, atomically: true, encoding: .utf8)
            let submitted = try await cluster.cli(["submit", pipeline, "--json"])
            let waiting = try #require(try submitted.json()["run"] as? String)
            var reason = ""
            for _ in 0..<50 where reason.isEmpty {
                let status = try await cluster.cli(["status", waiting, "--json"])
                let step = ((try status.json()["steps"] as? [[String: Any]]) ?? []).first
                reason = step?["reason"] as? String ?? ""
                if reason.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(reason == "waiting: needs gpu≥4 with label gpu; no such worker connected")
            let canceled = try await cluster.cli(["cancel", waiting])
            #expect(canceled.status == 0, "\(canceled.stderr)")

            // An instance type the coordinator does not know is refused at submission.
            try """
                type: pipeline
                jobs:
                  odd:
                    command: echo
                    resources: {instance_type: Standard_Imaginary}
                """.write(toFile: pipeline, atomically: true, encoding: .utf8)
            let refused = try await cluster.cli(["submit", pipeline])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("step odd: resources.instance_type 'Standard_Imaginary' is not known; valid:"), "\(refused.stderr)")
        }
    }
}
