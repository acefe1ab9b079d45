import Foundation
@testable import Spec
import Testing

/// An environments-file entry mapping to an interpreter, with the conda file of what it holds: the
/// loader asks about the interpreters the pipeline uses and warns, at the entry's line, about one
/// that is not there or lacks a listed package.
@Suite struct InterpreterMappingTests {
    @Test(arguments: [
        ("scikit-learn==1.5.0", "scikit-learn"), ("mlflow[extras]>=2", "mlflow"), ("PyYAML", "PyYAML"),
        ("pkg @ https://example.com/pkg.whl", "pkg"), ("requests ; python_version > '3'", "requests"),
    ])
    func aPipRequirementNamesItsDistribution(requirement: String, name: String) {
        #expect(DistributionNames.ofPipRequirement(requirement) == name)
    }

    @Test(arguments: ["./local/pkg", "/abs/pkg.whl", "git+https://github.com/o/r.git", "https://example.com/x.whl"])
    func aPathOrURLRequirementIsNotChecked(requirement: String) {
        #expect(DistributionNames.ofPipRequirement(requirement) == nil)
    }

    @Test(arguments: [
        ("numpy=1.26", "numpy"), ("conda-forge::pytorch=2.3", "torch"), ("py-xgboost", "xgboost"),
        ("pytables", "tables"), ("pandas>=2", "pandas"),
    ])
    func aCondaPackageNamesItsDistribution(package: String, name: String) {
        #expect(DistributionNames.ofCondaPackage(package) == name)
    }

    @Test(arguments: ["python=3.11", "pip", "cudatoolkit=11.8", "cuda-nvcc", "r-base", "mkl"])
    func aCondaPackageThatIsNotPythonIsNotChecked(package: String) {
        #expect(DistributionNames.ofCondaPackage(package) == nil)
    }

    static let files: [String: String] = [
        "pipeline.yml": """
        type: pipeline
        jobs:
          train:
            command: python train.py
            environment: azureml:torch-env:2
          score:
            command: python score.py
            environment: azureml:torch-env:2
          other:
            command: python other.py
            environment: azureml:gone-env:1
        """,
        "environments.yml": """
        unused-env:
          python: /opt/unused/bin/python
        torch-env:
          python: /opt/conda/envs/torch/bin/python
          conda_file: envs/torch.yml
        gone-env:
          python: /nowhere/bin/python
        """,
        "envs/torch.yml": """
        dependencies:
          - python=3.11
          - pytorch=2.3
          - cudatoolkit=11.8
          - pip:
            - pandas==2.2.0
            - ./vendored/pkg
        """,
    ]

    /// Records what the loader asks and answers as told.
    final class Asked: @unchecked Sendable {  // the loader calls it on the loading thread only
        var questions: [String: [String]] = [:]
    }

    @Test func theLoaderWarnsAboutAMissingInterpreterAndMissingPackagesAtTheMappingsLine() throws {
        let fixture = try Fixture(Self.files)
        let asked = Asked()
        let plan = try PipelineLoader.load(
            file: fixture.path("pipeline.yml"),
            options: PipelineLoader.Options(environmentsFile: fixture.path("environments.yml")) { interpreter, names in
                asked.questions[interpreter, default: []] += names
                if interpreter.hasPrefix("/nowhere") { return .unavailable("does not exist or is not executable") }
                return .missing(names.filter { $0 != "pandas" })
            }
        )
        #expect(asked.questions == ["/opt/conda/envs/torch/bin/python": ["torch", "pandas"], "/nowhere/bin/python": []],
                "each used mapping is asked about once, for its conda file's distributions")
        #expect(plan.steps[0].environmentSetup == StepEnvironment(reference: "azureml:torch-env:2", kind: .interpreter, python: "/opt/conda/envs/torch/bin/python"))
        let missing = try #require(plan.warnings.first { $0.contains("torch-env") }, "\(plan.warnings)")
        #expect(missing.contains(fixture.path("environments.yml") + ":4"), "at the mapping: \(missing)")
        #expect(missing.contains("cannot import torch (listed in envs/torch.yml)"), "\(missing)")
        #expect(missing.contains("/opt/conda/envs/torch/bin/python -m pip install torch"), "\(missing)")
        let gone = try #require(plan.warnings.first { $0.contains("gone-env") }, "\(plan.warnings)")
        #expect(gone.contains("/nowhere/bin/python, which does not exist or is not executable on this machine"), "\(gone)")
        #expect(!plan.warnings.contains { $0.contains("unused-env") })
    }

    @Test func withoutAnInspectorNothingIsAskedAndAllIsFine() throws {
        let fixture = try Fixture(Self.files)
        let plan = try PipelineLoader.load(file: fixture.path("pipeline.yml"), options: PipelineLoader.Options(environmentsFile: fixture.path("environments.yml")))
        #expect(!plan.warnings.contains { $0.contains("torch-env") || $0.contains("gone-env") })
        let file = try EnvironmentsFile.load(file: fixture.path("environments.yml"))
        #expect(file.entry(for: "azureml:torch-env:2")?.expectedDistributions == ["torch", "pandas"])
        #expect(file.warnings.isEmpty, "nothing is installed for a python: entry, so no conversion warning")
    }
}
