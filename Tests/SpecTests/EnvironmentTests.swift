import Artifacts
import Foundation
@testable import Spec
import Testing

@Suite struct EnvironmentTests {
    /// A one-step pipeline whose step has `environment` (YAML text, indented for the step).
    static func pipeline(environment: String) -> String {
        """
        type: pipeline
        jobs:
          train:
            command: python train.py
            environment: \(environment)
        """
    }

    static func load(_ fixture: Fixture, environments: String? = nil) throws -> PipelinePlan {
        try PipelineLoader.load(
            file: fixture.path("pipeline.yml"),
            options: PipelineLoader.Options(environmentsFile: environments.map { fixture.path($0) })
        )
    }

    // MARK: Digest

    @Test func digestCoversWhatIsBuiltButNotTheName() {
        let first = StepEnvironment(reference: "azureml:a:1", kind: .virtualEnvironment, python: "3.11", requirements: ["numpy==1.26"])
        let renamed = StepEnvironment(reference: "azureml:b:2", kind: .virtualEnvironment, python: "3.11", requirements: ["numpy==1.26"])
        let newer = StepEnvironment(reference: "azureml:a:1", kind: .virtualEnvironment, python: "3.11", requirements: ["numpy==2.0"])
        let otherPython = StepEnvironment(reference: "azureml:a:1", kind: .virtualEnvironment, python: "3.12", requirements: ["numpy==1.26"])
        #expect(first.digest == renamed.digest)
        #expect(first.digest != newer.digest)
        #expect(first.digest != otherPython.digest)
        #expect(first.digest.count == 64)
        // SHA-256 of {"kind":"virtual_environment","python":"3.11","requirements":["numpy==1.26"]}
        #expect(first.digest == SHA256Hasher.digest(ofUTF8: #"{"kind":"virtual_environment","python":"3.11","requirements":["numpy==1.26"]}"#).hex)
    }

    // MARK: Inline environments

    @Test func inlineCondaFileBecomesAVirtualEnvironment() throws {
        let fixture = try Fixture([
            "pipeline.yml": Self.pipeline(environment: "{image: 'mcr.microsoft.com/azureml/base:latest', conda_file: envs/conda.yml}"),
            "envs/conda.yml": """
            name: train-env
            channels: [conda-forge]
            dependencies:
              - python=3.11.4
              - pip
              - numpy=1.26=py311_0
              - conda-forge::pandas>=2.0
              - pip:
                - scikit-learn==1.5.0
                - mlflow
            """,
        ])
        let plan = try Self.load(fixture)
        let setup = try #require(plan.steps[0].environmentSetup)
        #expect(setup.reference == nil)
        #expect(setup.kind == .virtualEnvironment)
        #expect(setup.python == "3.11")
        #expect(setup.requirements == ["numpy==1.26", "pandas>=2.0", "scikit-learn==1.5.0", "mlflow"])
        let warning = try #require(plan.warnings.first { $0.contains("conda packages") })
        #expect(warning.contains("numpy=1.26=py311_0"))
        #expect(warning.contains("conda-forge::pandas>=2.0"))
        #expect(warning.contains("pipeline.yml:5"))
    }

    @Test func inlineCondaMappingAndImageAlone() throws {
        let inline = try Fixture.load(Self.pipeline(environment: "{image: python:3.11, conda_file: {dependencies: [{pip: [requests==2.32.0]}]}}"))
        let setup = try #require(inline.steps[0].environmentSetup)
        #expect(setup.kind == .virtualEnvironment)
        #expect(setup.python == nil)
        #expect(setup.requirements == ["requests==2.32.0"])
        let image = try Fixture.load(Self.pipeline(environment: "{image: python:3.11}"))
        #expect(image.steps[0].environmentSetup == StepEnvironment(reference: nil, kind: .workerPython))
        let none = try Fixture.load("type: pipeline\njobs:\n  train:\n    command: echo hi\n")
        #expect(none.steps[0].environmentSetup == nil)
    }

    @Test func buildContextsAndPipOptionsAreRefusedPrecisely() throws {
        let build = try #require(try Fixture.error(Self.pipeline(environment: "{build: {path: ./docker}}")))
        #expect(build.code == .notSupported)
        #expect(build.line == 5)
        #expect(build.field == "jobs.train.environment.build")
        #expect(build.message.contains("conda_file"))
        let options = try #require(try Fixture.error(Self.pipeline(environment: "{conda_file: {dependencies: [{pip: ['--index-url https://x']}]}}")))
        #expect(options.code == .notSupported)
        #expect(options.message.contains("--index-url"))
        let missing = try #require(try Fixture.error(Self.pipeline(environment: "{conda_file: nowhere.yml}")))
        #expect(missing.code == .fileNotFound)
        #expect(missing.message.contains("nowhere.yml"))
        let version = try #require(try Fixture.error(Self.pipeline(environment: "{conda_file: {dependencies: ['python>=3.9']}}")))
        #expect(version.message.contains("python=MAJOR.MINOR"))
    }

    @Test func componentCondaFilesResolveAgainstTheComponentFile() throws {
        let fixture = try Fixture([
            "pipeline.yml": """
            type: pipeline
            jobs:
              train:
                component: components/train.yml
            """,
            "components/train.yml": """
            type: command
            command: python train.py
            environment:
              image: python:3.11
              conda_file: conda.yml
            """,
            "components/conda.yml": "dependencies:\n  - pip:\n    - torch==2.3.0\n",
        ])
        let plan = try Self.load(fixture)
        #expect(plan.steps[0].environmentSetup?.requirements == ["torch==2.3.0"])
    }

    // MARK: Named environments and the environments file

    @Test func namedEnvironmentsResolveThroughTheEnvironmentsFile() throws {
        let fixture = try Fixture([
            "pipeline.yml": """
            type: pipeline
            jobs:
              curated:
                command: python a.py
                environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
              pinned:
                command: python b.py
                environment: azureml:sklearn-env:3
              interpreter:
                command: python c.py
                environment: azureml:local-py@latest
              unmapped:
                command: python d.py
                environment: azureml:mystery-env:1
            """,
            "environments.yml": """
            azureml://registries/azureml/environments/sklearn-1.5/labels/latest:
              requirements: [scikit-learn==1.5.0, pandas]
              python_version: "3.11"
            sklearn-env:
              requirements: [scikit-learn==1.4.2]
            azureml:local-py:
              python: /usr/bin/python3.11
            """,
        ])
        let plan = try Self.load(fixture, environments: "environments.yml")
        let setups = plan.steps.map(\.environmentSetup)
        #expect(setups[0] == StepEnvironment(
            reference: "azureml://registries/azureml/environments/sklearn-1.5/labels/latest", kind: .virtualEnvironment,
            python: "3.11", requirements: ["scikit-learn==1.5.0", "pandas"]
        ))
        #expect(setups[1] == StepEnvironment(reference: "azureml:sklearn-env:3", kind: .virtualEnvironment, requirements: ["scikit-learn==1.4.2"]))
        #expect(setups[2] == StepEnvironment(reference: "azureml:local-py@latest", kind: .interpreter, python: "/usr/bin/python3.11"))
        #expect(setups[3] == StepEnvironment(reference: "azureml:mystery-env:1", kind: .workerPython))
        let warning = try #require(plan.warnings.first { $0.contains("mystery-env") })
        #expect(warning.contains("pipeline.yml:14"))
        #expect(warning.contains("mystery-env: {requirements:"))
        #expect(warning.contains("environments.yml does not map it"))
    }

    @Test func withoutAnEnvironmentsFileNamedEnvironmentsWarnOnce() throws {
        let plan = try Fixture.load("""
        type: pipeline
        jobs:
          a: {command: echo a, environment: azureml:sklearn-env:1}
          b: {command: echo b, environment: azureml:sklearn-env:1}
        """)
        #expect(plan.steps.allSatisfy { $0.environmentSetup?.kind == .workerPython })
        #expect(plan.warnings.filter { $0.contains("sklearn-env") }.count == 1)
        #expect(plan.warnings.contains { $0.contains("no environments file was found") })
    }

    @Test func aBareNameMatchesAnyVersionButAFullKeyOnlyItself() throws {
        let file = try EnvironmentsFile.parse("""
        azureml:sklearn-env:1: {requirements: [a==1]}
        sklearn-env: {requirements: [a==2]}
        """, file: "/tmp/environments.yml")
        #expect(file.entry(for: "azureml:sklearn-env:1")?.environment.requirements == ["a==1"])
        #expect(file.entry(for: "azureml:sklearn-env:2")?.environment.requirements == ["a==2"])
        #expect(file.entry(for: "azureml://registries/r/environments/sklearn-env/versions/9")?.environment.requirements == ["a==2"])
        #expect(file.entry(for: "azureml:other:1") == nil)
        #expect(EnvironmentsFile.environmentName("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/environments/e1/versions/2") == "e1")
    }

    @Test(arguments: [
        ("env: [a]", "expected {requirements", 1),
        ("env: {requirements: [a], python: /usr/bin/python3}", "exactly one of", 1),
        ("env:\n  pip: [a]", "unknown key 'pip'", 2),
        ("env: {python: python3}", "must be an absolute path", 1),
        ("env: {requirements: [a], python_version: 3.10}", "in quotes", 1),
        ("env: {requirements: ['--pre']}", "not a pip requirement", 1),
        ("env: {}", "exactly one of", 1),
    ])
    func environmentsFileErrorsNameFileLineAndKey(text: String, expected: String, line: Int) throws {
        do {
            _ = try EnvironmentsFile.parse(text, file: "/etc/conduit/environments.yml")
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.file == "/etc/conduit/environments.yml")
            #expect(error.line == line)
            #expect(error.message.contains(expected), "\(error)")
            #expect(error.message.contains("'env'"), "\(error)")
        }
    }

    @Test func anEnvironmentsFileErrorStopsTheLoad() throws {
        let fixture = try Fixture([
            "pipeline.yml": Self.pipeline(environment: "azureml:x:1"),
            "environments.yml": "x: {requirements: [a]}\ny: 3\n",
        ])
        do {
            _ = try Self.load(fixture, environments: "environments.yml")
            Issue.record("loaded")
        } catch let error as SpecError {
            #expect(error.file == fixture.path("environments.yml"))
            #expect(error.line == 2)
        }
    }

    // MARK: Plans and changes

    @Test func theEnvironmentSurvivesThePlanJSONRoundTrip() throws {
        let fixture = try Fixture([
            "pipeline.yml": Self.pipeline(environment: "azureml:sk:1"),
            "environments.yml": "sk: {requirements: [scikit-learn==1.5.0], python_version: '3.12'}\n",
        ])
        let plan = try Self.load(fixture, environments: "environments.yml")
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
        #expect(decoded == plan)
        #expect(decoded.steps[0].environmentSetup?.python == "3.12")
    }

    @Test func differencesNameWhatChanged() {
        let old = StepEnvironment(reference: "azureml:sklearn-env:1", kind: .virtualEnvironment, requirements: ["scikit-learn==1.5.0", "pandas"])
        let new = StepEnvironment(reference: "azureml:sklearn-env:2", kind: .virtualEnvironment, requirements: ["scikit-learn==1.5.1", "numpy"])
        #expect(StepEnvironment.differences(from: old, to: new) == [
            "environment: azureml:sklearn-env:1 → azureml:sklearn-env:2",
            "environment: requirement numpy added",
            "environment: requirement pandas removed",
            "environment: requirement scikit-learn==1.5.0 → scikit-learn==1.5.1",
        ])
        let interpreter = StepEnvironment(reference: "azureml:sklearn-env:2", kind: .interpreter, python: "/usr/bin/python3.11")
        let worker = StepEnvironment(reference: "azureml:sklearn-env:2", kind: .workerPython)
        #expect(StepEnvironment.differences(from: interpreter, to: worker) == [
            "environment: python /usr/bin/python3.11 → python3",
            "environment: an existing interpreter → the worker's python3",
        ])
        #expect(StepEnvironment.differences(from: old, to: old).isEmpty)
        #expect(StepEnvironment.differences(from: nil, to: worker) == ["environment: azureml:sklearn-env:2 added (python3)"])
    }
}
