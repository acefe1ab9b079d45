import Foundation
import Protocol
import Spec
import Testing

/// `resources:` on steps and components, and the coordinator's placement configuration file.
@Suite struct ResourcesTests {
    @Test func aStepsResourcesOverrideItsComponentsFieldByField() throws {
        let fixture = try Fixture([
            "pipeline.yml": """
                type: pipeline
                jobs:
                  train:
                    component: ./train.yml
                    resources: {instance_type: Standard_NC6s_v3, gpu: 2}
                  prep:
                    command: echo prep
                    resources: {cpu: 0.5, memory: 512MiB}
                  plain: {command: echo}
                """,
            "train.yml": """
                type: command
                command: python train.py
                resources: {cpu: 4, memory: 16GiB, gpu: 1, gpu_memory: 16GiB}
                """,
        ])
        let plan = try fixture.load()
        #expect(plan.step("train")?.resources == StepResources(
            instanceType: "Standard_NC6s_v3", cpuMillicores: 4000, memoryBytes: 16 << 30, gpus: 2, gpuMemoryBytes: 16 << 30
        ))
        #expect(plan.step("prep")?.resources == StepResources(cpuMillicores: 500, memoryBytes: 512 << 20))
        #expect(plan.step("plain")?.resources == nil)
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
        #expect(decoded == plan, "the plan's JSON carries the resources")
    }

    @Test func gpuMemoryAloneAsksForOneGPU() throws {
        let plan = try Fixture.load("type: pipeline\njobs:\n  a:\n    command: echo\n    resources: {gpu_memory: 40GB}\n")
        #expect(plan.steps[0].resources == StepResources(gpus: 1, gpuMemoryBytes: 40_000_000_000))
    }

    @Test func unknownResourceKeysAreWarnedAboutNotRefused() throws {
        let plan = try Fixture.load("type: pipeline\njobs:\n  a:\n    command: echo\n    resources: {instance_count: 1, shm_size: 2g, gpus: 2}\n")
        #expect(plan.warnings.contains { $0.description.contains("unknown key 'gpus'") && $0.description.contains("cpu, memory, gpu, gpu_memory") })
        #expect(plan.steps[0].resources == nil)
    }

    @Test(arguments: [
        ("{memory: 16 bananas}", SpecError.Code.invalidType, "memory: '16 bananas' is not a size"),
        ("{memory: [1]}", .invalidType, "expected a single value"),
        ("{memory: -1GiB}", .invalidType, "is not a size"),
        ("{cpu: lots}", .invalidType, "cpu must be a number of cores"),
        ("{cpu: 0}", .outOfRange, "more than 0"),
        ("{gpu: 1.5}", .invalidType, "whole number of GPUs"),
        ("{gpu: 65}", .outOfRange, "between 0 and 64"),
        ("{instance_count: 2}", .notSupported, "one worker"),
        ("{instance_type: ''}", .invalidType, "instance_type is empty"),
    ])
    func badResourcesAreRefusedNamingTheField(_ block: String, _ code: SpecError.Code, _ words: String) throws {
        let error = try #require(try Fixture.error("type: pipeline\njobs:\n  a:\n    command: echo\n    resources: \(block)\n"))
        #expect(error.code == code, "\(error)")
        #expect(error.description.contains(words), "\(error)")
        #expect(error.line == 5, "\(error)")
        #expect(error.field?.hasPrefix("jobs.a.resources") == true, "\(error)")
    }

    @Test func theConfigurationFileMapsComputeAndInstanceTypes() throws {
        let config = try PlacementConfigFile.parse("""
            compute:
              azureml:gpu-cluster: {label: gpu, gpu: 1}
              anywhere: {label: null}
              highmem:
            instance_types:
              Standard_Big: {cpu: 32, memory: 256GiB}
            """, file: "/etc/conduit.yml")
        #expect(config.computeEntries["gpu-cluster"] == .init(label: "gpu", resources: StepResources(gpus: 1)))
        #expect(config.computeEntries["anywhere"] == .init(label: nil, resources: StepResources()))
        #expect(config.computeEntries["highmem"] == .init(label: "highmem", resources: StepResources()))
        #expect(config.instanceTypes["Standard_Big"] == StepResources(cpuMillicores: 32_000, memoryBytes: 256 << 30))
    }

    @Test(arguments: [
        ("computes:\n  a: {}\n", 2, "unknown key 'computes'"),
        ("compute:\n  a: {labels: x}\n", 2, "unknown key 'labels'"),
        ("compute:\n  a: {label: 'two words'}\n", 2, "not a label"),
        ("instance_types:\n  T: {gpu: many}\n", 2, "whole number of GPUs"),
        ("instance_types:\n  T: {disk: 1}\n", 2, "unknown key 'disk'"),
    ])
    func aBadConfigurationFileIsRefusedWithItsLine(_ text: String, _ line: Int, _ words: String) throws {
        do {
            _ = try PlacementConfigFile.parse(text, file: "/etc/conduit.yml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.file == "/etc/conduit.yml" && error.line == line, "\(error)")
            #expect(error.description.contains(words), "\(error)")
        }
    }

    @Test func sizesAreReadAndPrinted() {
        #expect(ByteCount.parse("16GiB") == 16 << 30)
        #expect(ByteCount.parse("16Gi") == 16 << 30)
        #expect(ByteCount.parse("2GB") == 2_000_000_000)
        #expect(ByteCount.parse("1.5 MiB") == 1_572_864)
        #expect(ByteCount.parse("1048576") == 1_048_576)
        #expect(ByteCount.parse("512mib") == 512 << 20)
        #expect(ByteCount.parse("50 gib") == 50 << 30)
        #expect(ByteCount.parse("1.5G") == 3 << 29)
        #expect(ByteCount.parse("64k") == 65536)
        #expect(ByteCount.parse("10B") == 10 && ByteCount.parse("0") == 0 && ByteCount.parse("1TiB") == 1 << 40)
        for bad in ["", "GiB", "1.5", "1..5GiB", "-3GiB", "3 parsecs", "99999999999TiB", "1e3GiB", "1e3"] {
            #expect(ByteCount.parse(bad) == nil, "\(bad)")
        }
        #expect(ByteCount.format(16 << 30) == "16 GiB")
        #expect(ByteCount.format(1_572_864) == "1.5 MiB")
        #expect(ByteCount.format(900) == "900 B")
        #expect(ByteCount.format(Int64(15.6 * 1_073_741_824)) == "15.6 GiB")
    }
}
