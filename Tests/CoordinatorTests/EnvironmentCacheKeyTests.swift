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

    @Test func stepsWithoutAnEnvironmentOrOnTheWorkersPythonKeepTheirKeys() {
        let plain = CacheManifest(command: "python train.py", parameters: [:], code: nil, environment: "", inputs: [:], outputs: [:])
        #expect(!plain.canonicalJSON.contains("environmentSetup"))
        #expect(plain.canonicalJSON == #"{"command":"python train.py","environment":"","inputs":{},"outputs":{},"parameters":{},"version":1}"#)
        let image = CacheManifest(
            command: "python train.py", parameters: [:], code: nil, environment: #"{"image":"python:3.11"}"#, inputs: [:], outputs: [:],
            environmentSetup: StepEnvironment(reference: nil, kind: .workerPython)
        )
        #expect(image.canonicalJSON == #"{"command":"python train.py","environment":"{\"image\":\"python:3.11\"}","inputs":{},"outputs":{},"parameters":{},"version":1}"#)
    }

    @Test func mappingAnUnmappedNameChangesTheKeyAndExplainSaysHow() throws {
        let unmapped = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .workerPython))
        let mapped = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .virtualEnvironment, requirements: ["scikit-learn==1.5.0"]))
        #expect(unmapped.canonicalJSON != mapped.canonicalJSON)
        // Explain compares against the stored (re-read) manifest.
        let stored = try #require(CacheManifest.decode(json: unmapped.canonicalJSON))
        #expect(mapped.differences(from: stored) == [
            "environment: the worker's python3 → a virtual environment",
            "environment: requirement scikit-learn==1.5.0 added",
        ])
        #expect(stored.differences(from: mapped).first == "environment: a virtual environment → the worker's python3")
    }

    @Test func explainNamesAnInterpreterChange() {
        let old = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .interpreter, python: "/usr/bin/python3.11"))
        let new = Self.manifest(StepEnvironment(reference: "azureml:sklearn-env:1", kind: .workerPython))
        let differences = new.differences(from: old)
        #expect(differences.contains("environment: python /usr/bin/python3.11 → python3"))
        #expect(!differences.contains("environment: the environment definition changed"))
    }
}
