import Foundation
import Protocol
import TestKit
import Testing
import Transport
@testable import Worker

/// Capability detection: cgroup limits from fixture directories, `nvidia-smi` output, simulated
/// GPU specs, `--gpus`, labels, the start-up summary, and the detector on this machine.
@Suite(.timeLimit(.minutes(1)))
struct CapabilityDetectionTests {
    /// A fixture tree under a fresh temporary directory: path → file contents.
    func fixture(_ files: [String: String], links: [String: String] = [:]) throws -> String {
        let root = NSTemporaryDirectory() + "cgroup-fixture-" + UUID().uuidString
        for (path, contents) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try contents.write(toFile: full, atomically: false, encoding: .utf8)
        }
        for (link, target) in links {
            try FileManager.default.createSymbolicLink(atPath: root + "/" + link, withDestinationPath: target)
        }
        return root
    }

    // MARK: cgroup v2

    @Test func cgroupV2LimitsOnTheProcessesOwnGroup() throws {
        let root = try fixture([
            "cgroup.controllers": "cpu memory\n",
            "jobs/job7/cpu.max": "250000 100000\n",
            "jobs/job7/memory.max": "2147483648\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let limits = CgroupLimits.read(root: root, procSelfCgroup: "0::/jobs/job7\n")
        #expect(limits == CgroupLimits(cpuCores: 2.5, memoryBytes: 2 << 30))
        #expect(limits.cores(available: 8) == 2, "a quota of 2.5 cores is rounded down")
        #expect(limits.cores(available: 1) == 1, "never more than the machine offers")
        #expect(limits.memory(physical: 16 << 30) == 2 << 30)
        #expect(limits.memory(physical: 1 << 30) == 1 << 30, "never more than the machine has")
    }

    @Test func cgroupV2UnlimitedGroupsLeaveTheMachinesResources() throws {
        let root = try fixture([
            "cgroup.controllers": "cpu memory\n",
            "user.slice/cpu.max": "max 100000\n",
            "user.slice/memory.max": "max\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let limits = CgroupLimits.read(root: root, procSelfCgroup: "0::/user.slice\n")
        #expect(limits == .none)
        #expect(limits.cores(available: 8) == 8)
        #expect(limits.memory(physical: 16 << 30) == 16 << 30)
    }

    @Test func cgroupV2AncestorLimitBindsTheChild() throws {
        let root = try fixture([
            "cgroup.controllers": "cpu memory\n",
            "slurm/job1/cpu.max": "100000 100000\n",
            "slurm/job1/memory.max": "1073741824\n",
            "slurm/job1/step0/cpu.max": "max 100000\n",
            "slurm/job1/step0/memory.max": "4294967296\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let limits = CgroupLimits.read(root: root, procSelfCgroup: "0::/slurm/job1/step0\n")
        #expect(limits == CgroupLimits(cpuCores: 1, memoryBytes: 1 << 30), "the tightest limit up the hierarchy wins")
    }

    @Test func cgroupV2ContainerGroupMountedAsTheRoot() throws {
        // The path named in /proc/self/cgroup does not exist inside the container: its own
        // group is the mount root, and that limit still counts.
        let root = try fixture(["cgroup.controllers": "cpu memory\n", "cpu.max": "50000 100000\n", "memory.max": "536870912\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let limits = CgroupLimits.read(root: root, procSelfCgroup: "0::/kubepods/pod1/container\n")
        #expect(limits == CgroupLimits(cpuCores: 0.5, memoryBytes: 512 << 20))
        #expect(limits.cores(available: 4) == 1, "half a core still counts as one")
    }

    // MARK: cgroup v1

    @Test func cgroupV1LimitsOnJointlyMountedControllers() throws {
        let root = try fixture(
            [
                "cpu,cpuacct/batch/job/cpu.cfs_quota_us": "300000\n",
                "cpu,cpuacct/batch/job/cpu.cfs_period_us": "100000\n",
                "memory/batch/memory.limit_in_bytes": "1073741824\n",
                "memory/batch/job/memory.limit_in_bytes": "9223372036854771712\n",
            ],
            links: ["cpu": "cpu,cpuacct", "cpuacct": "cpu,cpuacct"]
        )
        defer { try? FileManager.default.removeItem(atPath: root) }
        let membership = "9:name=systemd:/batch/job\n4:memory:/batch/job\n2:cpu,cpuacct:/batch/job\n0::/\n"
        let limits = CgroupLimits.read(root: root, procSelfCgroup: membership)
        #expect(limits == CgroupLimits(cpuCores: 3, memoryBytes: 1 << 30), "the parent's memory limit binds the job")
        #expect(limits.cores(available: 16) == 3)
    }

    @Test func cgroupV1UnlimitedValuesMeanNoLimit() throws {
        let root = try fixture([
            "cpu/cpu.cfs_quota_us": "-1\n",
            "cpu/cpu.cfs_period_us": "100000\n",
            "memory/memory.limit_in_bytes": "9223372036854771712\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let limits = CgroupLimits.read(root: root, procSelfCgroup: "4:memory:/\n1:cpu:/\n")
        #expect(limits == .none)
    }

    @Test func missingFilesAndGarbageMeanNoLimit() throws {
        let root = try fixture(["cgroup.controllers": "", "memory/other/memory.limit_in_bytes": "1024\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CgroupLimits.read(root: root, procSelfCgroup: "0::/not/here\n") == .none)
        #expect(CgroupLimits.read(root: root, procSelfCgroup: "") == .none)
        #expect(CgroupLimits.read(root: root, procSelfCgroup: "this is not a cgroup file\n::\n") == .none)
        #expect(CgroupLimits.read(root: root + "/absent", procSelfCgroup: "0::/\n4:memory:/\n") == .none)
        // A quota without its period is ignored.
        let halfV1 = try fixture(["cpu/cpu.cfs_quota_us": "200000\n"])
        defer { try? FileManager.default.removeItem(atPath: halfV1) }
        #expect(CgroupLimits.read(root: halfV1, procSelfCgroup: "1:cpu:/\n") == .none)
        // Without cgroup.controllers the root is not a v2 hierarchy: its files are not v2 limits.
        let notUnified = try fixture(["cpu.max": "100000 100000\n", "memory.max": "1024\n"])
        defer { try? FileManager.default.removeItem(atPath: notUnified) }
        #expect(CgroupLimits.read(root: notUnified, procSelfCgroup: "0::/\n") == .none)
    }

    @Test func cgroupFileParsers() {
        #expect(CgroupLimits.parseCPUMax("150000 100000\n") == 1.5)
        #expect(CgroupLimits.parseCPUMax("max 100000\n") == nil)
        #expect(CgroupLimits.parseCPUMax("") == nil)
        #expect(CgroupLimits.parseCPUMax("0 100000") == nil)
        #expect(CgroupLimits.parseMemoryMax("max\n") == nil)
        #expect(CgroupLimits.parseMemoryMax("garbage") == nil)
        #expect(CgroupLimits.parseMemoryMax("4096\n") == 4096)
        #expect(CgroupLimits.parseCFSQuota(quota: "-1", period: "100000") == nil)
        #expect(CgroupLimits.parseCFSQuota(quota: "50000\n", period: "100000\n") == 0.5)
        #expect(CgroupLimits.parseMemoryLimit("9223372036854771712") == nil)
        #expect(CgroupLimits.parseMemoryLimit("8589934592\n") == 8 << 30)
    }

    @Test func hostResourcesApplyTheLimitsAndSayWhy() {
        let machine = CapabilityDetector.hostResources(limits: .none)
        #expect(machine.cores >= 1 && machine.memoryBytes > 0)
        #expect(machine.coreLimit != .cgroup && !machine.memoryLimitedByCgroup)
        let limited = CapabilityDetector.hostResources(limits: CgroupLimits(cpuCores: 0.5, memoryBytes: 1 << 20))
        #expect(limited.cores == 1 && limited.memoryBytes == 1 << 20 && limited.memoryLimitedByCgroup)
        #expect(limited.coreLimit == (machine.cores > 1 ? .cgroup : machine.coreLimit))
    }

    // MARK: nvidia-smi

    @Test func nvidiaSMIOutputIsParsed() throws {
        let output = """
            1, GPU-bbbb-2222, NVIDIA A100-SXM4-40GB, 40960, 40000, 8.0
              0 ,GPU-aaaa-1111 ,  NVIDIA H100 80GB HBM3  , 81559 , 81000 , 9.0  

            """
        let devices = try NvidiaSMI.parse(csv: output, withComputeCapability: true)
        #expect(devices == [
            GPUDevice(index: 0, uuid: "GPU-aaaa-1111", name: "NVIDIA H100 80GB HBM3", memoryBytes: 81559 << 20,
                      freeMemoryBytes: 81000 << 20, computeCapability: "9.0"),
            GPUDevice(index: 1, uuid: "GPU-bbbb-2222", name: "NVIDIA A100-SXM4-40GB", memoryBytes: 40960 << 20,
                      freeMemoryBytes: 40000 << 20, computeCapability: "8.0"),
        ])
    }

    @Test func nvidiaSMIFieldsTheDriverCannotReport() throws {
        let output = "0, GPU-cccc, Tesla K80, [N/A], [N/A], [Not Supported]\n1, [N/A], GRID T4-4Q, 4096, N/A, \n"
        let devices = try NvidiaSMI.parse(csv: output, withComputeCapability: true)
        #expect(devices.count == 2)
        #expect(devices[0].memoryBytes == 0 && devices[0].freeMemoryBytes == 0 && devices[0].computeCapability == "")
        #expect(devices[1].uuid == "" && devices[1].memoryBytes == 4096 << 20 && devices[1].freeMemoryBytes == 0)
    }

    @Test func nvidiaSMIWithoutComputeCapabilityAndEmptyOutput() throws {
        let devices = try NvidiaSMI.parse(csv: "0, GPU-dddd, Tesla P100-PCIE-16GB, 16280, 16000\n", withComputeCapability: false)
        #expect(devices.map(\.name) == ["Tesla P100-PCIE-16GB"] && devices[0].computeCapability == "")
        #expect(try NvidiaSMI.parse(csv: "", withComputeCapability: true).isEmpty)
        #expect(try NvidiaSMI.parse(csv: "\n  \n", withComputeCapability: true).isEmpty)
    }

    @Test func nvidiaSMIMalformedLinesAreRefused() {
        #expect(throws: NvidiaSMI.ParseError.self) {
            try NvidiaSMI.parse(csv: "0, GPU-aaaa, NVIDIA H100, 81559, 81000\n", withComputeCapability: true)
        }
        #expect(throws: NvidiaSMI.ParseError.self) {
            try NvidiaSMI.parse(csv: "No devices were found\n", withComputeCapability: true)
        }
        #expect(throws: NvidiaSMI.ParseError.self) {
            try NvidiaSMI.parse(csv: "x, GPU-aaaa, NVIDIA H100, 81559, 81000, 9.0\n", withComputeCapability: true)
        }
    }

    @Test func commandsRunUnderATimeout() {
        #expect(NvidiaSMI.run("/bin/echo", ["a,b"]) == "a,b\n")
        #expect(NvidiaSMI.run("/bin/false", []) == nil, "a failing command yields nothing")
        #expect(NvidiaSMI.run("/nonexistent/nvidia-smi", []) == nil)
        let start = ContinuousClock.now
        #expect(NvidiaSMI.run("/bin/sleep", ["30"], timeout: .milliseconds(200)) == nil)
        #expect(ContinuousClock.now - start < .seconds(5), "a hung command is abandoned at its timeout")
        #expect(NvidiaSMI.findExecutable("sh", path: "/nonexistent::/bin") == "/bin/sh")
        #expect(NvidiaSMI.findExecutable("nvidia-smi-not-here", path: "/bin:/usr/bin") == nil)
    }

    // MARK: simulated GPUs

    @Test func simulatedSpecs() throws {
        let two = try SimulatedGPUs.parse("2")
        #expect(two == [
            GPUDevice(index: 0, uuid: "GPU-SIMULATED-0", name: "Simulated GPU", memoryBytes: 16 << 30, freeMemoryBytes: 16 << 30, simulated: true),
            GPUDevice(index: 1, uuid: "GPU-SIMULATED-1", name: "Simulated GPU", memoryBytes: 16 << 30, freeMemoryBytes: 16 << 30, simulated: true),
        ])
        let a100s = try SimulatedGPUs.parse("2xA100:80GiB")
        #expect(a100s.map(\.name) == ["A100", "A100"] && a100s.allSatisfy { $0.memoryBytes == 80 << 30 && $0.simulated })
        let mixed = try SimulatedGPUs.parse(" A100:80GiB, T4:16gib ,1xRTX 4090:512MiB,H100 ")
        #expect(mixed.map(\.index) == [0, 1, 2, 3])
        #expect(mixed.map(\.uuid) == ["GPU-SIMULATED-0", "GPU-SIMULATED-1", "GPU-SIMULATED-2", "GPU-SIMULATED-3"])
        #expect(mixed.map(\.name) == ["A100", "T4", "RTX 4090", "H100"])
        #expect(mixed.map(\.memoryBytes) == [80 << 30, 16 << 30, 512 << 20, 16 << 30])
        #expect(try SimulatedGPUs.parse("1xA10G:22.5GiB")[0].memoryBytes == 22 << 30 + 512 << 20)
        #expect(try SimulatedGPUs.parse("0").isEmpty && SimulatedGPUs.parse("none").isEmpty)
        #expect(try SimulatedGPUs.parse("64").count == 64)
    }

    static let grammar = "write a count (2), [COUNTx]MODEL[:MEMORY] (2xA100:80GiB) or a comma-separated list (A100:80GiB,T4:16GiB)"

    @Test(arguments: [
        ("", "the spec is empty"),
        ("65", "the count must be from 1 to 64"),
        ("A100,,T4", "an entry between commas is empty"),
        ("A100,", "an entry between commas is empty"),
        ("0xA100", "the count in '0xA100' must be from 1 to 64"),
        ("2x:80GiB", "'2x:80GiB' names no model"),
        (":80GiB", "':80GiB' names no model"),
        ("A1!00", "the model 'A1!00' may hold only letters, digits, spaces, '-', '_' and '.'"),
        ("A100:80", "the memory '80' in 'A100:80' must be a positive size with a unit, e.g. 80GiB"),
        ("A100:0GiB", "the memory '0GiB' in 'A100:0GiB' must be a positive size with a unit, e.g. 80GiB"),
        ("A100:", "the memory '' in 'A100:' must be a positive size with a unit, e.g. 80GiB"),
        ("A100:80GiB:9.0", "'A100:80GiB:9.0' has more than one ':'"),
        ("40xA100,30xT4", "70 devices in all; at most 64"),
    ])
    func malformedSimulatedSpecsAreRefusedPrecisely(spec: String, reason: String) {
        #expect {
            try SimulatedGPUs.parse(spec)
        } throws: { error in
            guard let error = error as? WorkerError else { return false }
            return error.code == .malformedSimulation && error.message == "--simulate-gpus '\(spec)': \(reason); \(Self.grammar)"
        }
    }

    @Test func simulationReplacesDetectionAndTheFlagBeatsTheEnvironment() async throws {
        let fromEnvironment = try await CapabilityDetector.detect(.init(environment: ["CONDUIT_SIMULATED_GPUS": "2xT4:16GiB"]))
        #expect(fromEnvironment.gpuSource == .simulated && fromEnvironment.gpus.map(\.name) == ["T4", "T4"])
        let fromFlag = try await CapabilityDetector.detect(
            .init(simulatedGPUs: "A100:80GiB", environment: ["CONDUIT_SIMULATED_GPUS": "2xT4:16GiB"]))
        #expect(fromFlag.gpus.map(\.name) == ["A100"] && fromFlag.gpus.allSatisfy(\.simulated))
        let none = try await CapabilityDetector.detect(.init(environment: ["CONDUIT_SIMULATED_GPUS": "0"]))
        #expect(none.gpus.isEmpty && none.gpuSource == .none)
        await #expect {
            try await CapabilityDetector.detect(.init(environment: ["CONDUIT_SIMULATED_GPUS": "2xT4:16 apples"]))
        } throws: { error in
            (error as? WorkerError)?.message.hasPrefix("CONDUIT_SIMULATED_GPUS '2xT4:16 apples': the memory '16 apples'") == true
        }
        let selected = try await CapabilityDetector.detect(.init(gpuSelection: GPUSelection(indices: [1, 3]), simulatedGPUs: "4xA100:80GiB"))
        #expect(selected.gpus.map(\.index) == [1, 3] && selected.gpus.map(\.uuid) == ["GPU-SIMULATED-1", "GPU-SIMULATED-3"])
        // The wire form carries the flag.
        let capabilities = selected.capabilities(slots: 2, labels: ["gpu"], diskFreeBytes: 1 << 30)
        #expect(capabilities.gpus.count == 2 && capabilities.gpus.allSatisfy(\.simulated))
        #expect(capabilities.slots == 2 && capabilities.labels == ["gpu"] && capabilities.diskFreeBytes == 1 << 30)
    }

    // MARK: --gpus

    @Test func gpuListsAreParsed() throws {
        #expect(try GPUSelection.parse("0,2").indices == [0, 2])
        #expect(try GPUSelection.parse(" 3 , 1 ").indices == [1, 3])
        #expect(try GPUSelection.parse("7").indices == [7])
    }

    @Test(arguments: [
        ("", "the list is empty"),
        ("0,,1", "an entry between commas is empty"),
        ("0,", "an entry between commas is empty"),
        ("a", "'a' is not a device index"),
        ("-1", "'-1' is not a device index"),
        ("0.5", "'0.5' is not a device index"),
        ("GPU-aaaa", "'GPU-aaaa' is not a device index"),
        ("1,1", "device 1 is named twice"),
    ])
    func malformedGPUListsAreRefusedPrecisely(list: String, reason: String) {
        #expect {
            try GPUSelection.parse(list)
        } throws: { error in
            guard let error = error as? WorkerError else { return false }
            return error.code == .malformedGPUList && error.message
                == "--gpus '\(list)': \(reason); write device indices separated by commas, e.g. --gpus 0,2 (see nvidia-smi -L)"
        }
    }

    @Test func gpuSelectionOffersOnlyTheNamedDevices() throws {
        let detected = try SimulatedGPUs.parse("2xA100:80GiB,2xT4:16GiB")
        let offered = try GPUSelection(indices: [2, 0]).apply(to: detected)
        #expect(offered.map(\.index) == [0, 2] && offered.map(\.name) == ["A100", "T4"], "indices are kept, not renumbered")
        #expect {
            try GPUSelection(indices: [1, 4, 5]).apply(to: detected)
        } throws: { error in
            (error as? WorkerError)?.message
                == "--gpus names devices 4, 5, which this machine does not have: the detected GPUs are 0 (A100), 1 (A100), 2 (T4), 3 (T4)"
        }
        #expect {
            try GPUSelection(indices: [0]).apply(to: [])
        } throws: { error in
            (error as? WorkerError)?.code == .unknownGPU && (error as? WorkerError)?.message
                == "--gpus names device 0, which this machine does not have: no GPUs were detected on this machine"
        }
    }

    // MARK: labels

    @Test func labelsAreValidated() throws {
        try WorkerLabels.validate(["gpu", "big-memory", "zone_a.1"])
        try WorkerLabels.validate([])
        #expect(throws: WorkerError(.invalidLabel, "--label: a label must not be empty")) {
            try WorkerLabels.validate(["gpu", ""])
        }
        for bad in ["two words", "a,b", "tab\there"] {
            #expect(throws: WorkerError(
                .invalidLabel,
                "--label '\(bad)': a label must not contain spaces or commas; pass one --label per label, e.g. --label gpu --label big-memory"
            )) {
                try WorkerLabels.validate([bad])
            }
        }
    }

    // MARK: summary

    @Test func theStartUpSummarySaysWhatWasFound() {
        let h100 = GPUDevice(index: 0, uuid: "GPU-1", name: "NVIDIA H100 80GB HBM3", memoryBytes: 85_520_809_984,
                             freeMemoryBytes: 84_000_000_000, computeCapability: "9.0")
        let real = MachineResources(cores: 8, coreLimit: .cgroup, memoryBytes: 16_750_372_454, hostname: "node1", gpus: [h100], gpuSource: .nvml)
        #expect(real.summary(workerName: "w1", diskFreeBytes: 120 << 30)
            == "worker w1: 8 cores (cgroup limit), 15.6 GiB memory, 120 GiB free disk, GPUs: 0 NVIDIA H100 80GB HBM3 (79.6 GiB, cc 9.0)")
        let plain = MachineResources(cores: 1, memoryBytes: 512 << 20, memoryLimitedByCgroup: true, hostname: "n")
        #expect(plain.summary(workerName: "w2", diskFreeBytes: nil)
            == "worker w2: 1 core, 512 MiB memory (cgroup limit), free disk unknown, GPUs: none")
        let simulated = MachineResources(cores: 4, coreLimit: .affinity, memoryBytes: 8 << 30, hostname: "n",
                                         gpus: try! SimulatedGPUs.parse("A100:80GiB,T4:16GiB"), gpuSource: .simulated)
        #expect(simulated.summary(workerName: "w3", diskFreeBytes: 1536 << 20)
            == "worker w3: 4 cores (CPU affinity), 8 GiB memory, 1.5 GiB free disk, GPUs: 0 A100 (80 GiB, simulated); 1 T4 (16 GiB, simulated)")
    }

    // MARK: this machine

    @Test func detectionOnThisMachine() async throws {
        var environment = ProcessInfo.processInfo.environment
        environment[SimulatedGPUs.environmentVariable] = nil
        let resources = try await CapabilityDetector.detect(.init(environment: environment))
        #expect(resources.cores >= 1 && resources.cores <= ProcessInfo.processInfo.processorCount)
        #expect(resources.memoryBytes > 0 && resources.memoryBytes <= Int64(ProcessInfo.processInfo.physicalMemory))
        let hasDriver = NVML.devices() != nil || NvidiaSMI.findExecutable("nvidia-smi", path: environment["PATH"] ?? "") != nil
        if hasDriver {
            #expect(resources.gpus.allSatisfy { !$0.simulated && !$0.uuid.isEmpty })
        } else {
            #expect(resources.gpus.isEmpty && resources.gpuSource == .none, "no driver: no GPUs, quietly")
        }
        #expect((DiskSpace.freeBytes(at: NSTemporaryDirectory()) ?? 0) > 0)
        #expect((DiskSpace.freeBytes(at: NSTemporaryDirectory() + "/not/yet/created") ?? 0) > 0, "an absent work directory asks its parent")
    }

    @Test func helloCarriesTheDetectedResources() async throws {
        let network = InMemoryNetwork()
        let directory = try ProcessHarness.temporaryDirectory("conduit-caps")
        let resources = MachineResources(cores: 3, memoryBytes: 5 << 30, hostname: "gpu-node",
                                         gpus: try SimulatedGPUs.parse("2xA100:80GiB"), gpuSource: .simulated)
        let worker = try WorkerService(
            configuration: WorkerConfiguration(name: "w", labels: ["gpu"], workDirectory: directory, resources: resources),
            transport: network.connectWorker(identity: "w-1")
        )
        var events = network.coordinator.events.makeAsyncIterator()
        async let outcome: Void? = try? worker.run()
        var hello: Hello?
        var peer: PeerID?
        while let event = await events.next() {
            if case .message(let from, let message) = event, case .hello(let body) = message.payload {
                hello = body
                peer = from
                break
            }
        }
        if let peer {
            network.coordinator.send(MessageFactory(senderID: "coordinator").make(.refuse(Refuse(reason: "test over"))), to: peer)
        }
        _ = await outcome
        let capabilities = try #require(hello?.capabilities)
        #expect(capabilities.cores == 3 && capabilities.memoryBytes == 5 << 30 && capabilities.hostname == "gpu-node")
        #expect(capabilities.gpus.map(\.uuid) == ["GPU-SIMULATED-0", "GPU-SIMULATED-1"] && capabilities.gpus.allSatisfy(\.simulated))
        #expect(capabilities.diskFreeBytes > 0 && capabilities.labels == ["gpu"])
    }
}
