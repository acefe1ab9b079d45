@testable import Coordinator
import Spec
import Testing

@Suite struct EnvironmentCacheKeyTests {
    static func manifest(_ setup: StepEnvironment?) -> CacheManifest {
        CacheManifest(
            command: "python train.py", parameters: [:], code: nil, environment: #""azureml:sklearn-env:1""#,
            inputs: [:], outputs: ["model": "uri_folder"], environmentSetup: setup
        )
    }

    @Test func theKeyCoversTheResolvedRequirements() {
        let old = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .virtualEnvironment, requirements: ["scikit-learn==1.5.0"]))
        let new = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .virtualEnvironment, requirements: ["scikit-learn==1.5.1"]))
        #expect(old.canonicalJSON != new.canonicalJSON)
        #expect(new.differences(from: old) == ["environment: requirement scikit-learn==1.5.0 → scikit-learn==1.5.1"])
        #expect(CacheManifest.decode(json: new.canonicalJSON) == new)
    }

    @Test func aStepWithoutAnEnvironmentKeepsItsKey() {
        let plain = CacheManifest(command: "python train.py", parameters: [:], code: nil, environment: "", inputs: [:], outputs: [:])
        #expect(!plain.canonicalJSON.contains("environmentSetup"))
        #expect(plain.canonicalJSON == #"{"command":"python train.py","environment":"","inputs":{},"outputs":{},"parameters":{},"version":1}"#)
    }

    @Test func explainNamesAnInterpreterChange() {
        let old = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .interpreter, python: "/usr/bin/python3.11"))
        let new = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .workerPython))
        let differences = new.differences(from: old)
        #expect(differences.contains("environment: python /usr/bin/python3.11 → python3"))
        #expect(!differences.contains("environment: the environment definition changed"))
    }
}
