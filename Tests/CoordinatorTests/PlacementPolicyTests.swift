@testable import Coordinator
import Spec
import Testing

@Suite struct PlacementPolicyTests {
    @Test func aComputeNameIsItsLabelUnlessConfigured() throws {
        let policy = PlacementPolicy(computeTargets: ["gpu-cluster": .init(label: "gpu", demand: StepResources(gpus: 1))])
        #expect(try policy.requirement(compute: "azureml:cpu-highmem", resources: nil) == Requirement(label: "cpu-highmem"))
        #expect(try policy.requirement(compute: "cpu-highmem", resources: nil) == Requirement(label: "cpu-highmem"))
        #expect(try policy.requirement(compute: "azureml:gpu-cluster", resources: nil) == Requirement(label: "gpu", gpus: 1))
        #expect(try policy.requirement(compute: "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/computes/big", resources: nil)
            == Requirement(label: "big"))
        #expect(try policy.requirement(compute: "local", resources: nil) == Requirement())
        #expect(try policy.requirement(compute: "azureml:serverless", resources: nil) == Requirement())
        #expect(try policy.requirement(compute: nil, resources: nil) == Requirement())
    }

    @Test func instanceTypesAndExplicitFieldsLayerInOrder() throws {
        let policy = PlacementPolicy(
            computeTargets: ["gpu": .init(label: "gpu", demand: StepResources(cpuMillicores: 2000, gpus: 1))],
            instanceTypes: ["Standard_Local": StepResources(cpuMillicores: 8000, memoryBytes: 32 << 30)]
        )
        // Built-in GPU sizes know their GPU count, in any case.
        #expect(try policy.requirement(compute: nil, resources: StepResources(instanceType: "standard_nc24S_v3")) == Requirement(gpus: 4))
        #expect(try policy.requirement(compute: nil, resources: StepResources(instanceType: "Standard_DS3_v2")) == Requirement())
        // compute defaults < instance type < the step's own fields.
        #expect(try policy.requirement(compute: "azureml:gpu", resources: StepResources(instanceType: "Standard_Local"))
            == Requirement(label: "gpu", cpuMillicores: 8000, memoryBytes: 32 << 30, gpus: 1))
        #expect(try policy.requirement(compute: "azureml:gpu", resources: StepResources(instanceType: "Standard_Local", memoryBytes: 1 << 30, gpus: 0))
            == Requirement(label: "gpu", cpuMillicores: 8000, memoryBytes: 1 << 30, gpus: 0))
    }

    @Test func anUnknownInstanceTypeIsRefusedWithTheValidOnes() {
        let policy = PlacementPolicy(instanceTypes: ["Standard_Local": StepResources()])
        do {
            _ = try policy.requirement(compute: nil, resources: StepResources(instanceType: "Standard_Imaginary"))
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("resources.instance_type 'Standard_Imaginary' is not known"))
            #expect(error.description.contains("Standard_Local") && error.description.contains("Standard_NC6s_v3") && error.description.contains("Standard_DS3_v2"), "\(error)")
        }
    }
}
