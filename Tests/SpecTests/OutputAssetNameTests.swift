import Foundation
import Testing
@testable import Spec

/// Outputs with `name:` and `version:`: read into the plan, checked, and kept out of the cache key's
/// inputs; data references the local registry lacks are left to the coordinator.
@Suite struct OutputAssetNameTests {
    func plan(_ text: String, registry: LocalRegistry? = nil, in fixture: Fixture) throws -> PipelinePlan {
        try fixture.write("pipeline.yml", text)
        return try PipelineLoader.load(file: fixture.path("pipeline.yml"), options: .init(registry: registry))
    }

    func error(_ text: String, registry: LocalRegistry? = nil, in fixture: Fixture) throws -> SpecError? {
        do {
            _ = try plan(text, registry: registry, in: fixture)
            return nil
        } catch let error as SpecError {
            return error
        }
    }

    @Test func jobAndPipelineOutputsCarryTheirAssetNames() throws {
        let fixture = try Fixture()
        let loaded = try plan("""
            type: pipeline
            outputs:
              best: {type: uri_folder, name: best-model, version: 3}
            jobs:
              prep:
                command: echo > ${{outputs.clean}}/x
                outputs:
                  clean: {type: uri_folder, name: clean-rows}
              train:
                command: echo > ${{outputs.model}}/x
                outputs:
                  model: ${{parent.outputs.best}}
                  extra: {type: uri_file}
            """, in: fixture)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(loaded.step("prep")?.outputs.first?.asset == OutputAssetName(name: "clean-rows", version: nil))
        let train = try #require(loaded.step("train"))
        #expect(train.outputs.first { $0.name == "model" }?.asset == OutputAssetName(name: "best-model", version: "3"))
        #expect(train.outputs.first { $0.name == "extra" }?.asset == nil)
        // The plan's JSON keeps them, and an older plan without them still decodes.
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(loaded).utf8))
        #expect(decoded == loaded)
    }

    @Test func badNamesVersionsAndClashesAreRefusedAtTheirLine() throws {
        let fixture = try Fixture()
        let versionOnly = try #require(try error("""
            type: pipeline
            jobs:
              a:
                command: echo
                outputs:
                  out: {type: uri_folder, version: 2}
            """, in: fixture))
        #expect(versionOnly.line == 6 && versionOnly.message.contains("version: without name:"), "\(versionOnly)")

        let badName = try #require(try error("""
            type: pipeline
            jobs:
              a:
                command: echo
                outputs:
                  out: {type: uri_folder, name: "no spaces"}
            """, in: fixture))
        #expect(badName.line == 6 && badName.code == .invalidName, "\(badName)")

        let twice = try #require(try error("""
            type: pipeline
            jobs:
              a:
                command: echo
                outputs:
                  out: {type: uri_folder, name: m, version: "1"}
              b:
                command: echo
                outputs:
                  out: {type: uri_folder, name: m, version: "1"}
            """, in: fixture))
        #expect(twice.message.contains("a.out and b.out both register azureml:m:1"), "\(twice)")

        let disagree = try #require(try error("""
            type: pipeline
            outputs:
              best: {name: one}
            jobs:
              a:
                command: echo
                outputs:
                  out:
                    path: ${{parent.outputs.best}}
                    name: two
            """, in: fixture))
        #expect(disagree.line == 3 && disagree.message.contains("registers azureml:one"), "\(disagree)")
    }

    @Test func aComponentsOutputNameIsAWarningNotARegistration() throws {
        let fixture = try Fixture([
            "step.yml": """
                type: command
                name: step
                command: echo > ${{outputs.out}}/x
                outputs:
                  out: {type: uri_folder, name: from-component}
                """,
        ])
        let loaded = try plan("""
            type: pipeline
            jobs:
              a:
                component: ./step.yml
            """, in: fixture)
        #expect(loaded.step("a")?.outputs.first?.asset == nil)
        #expect(loaded.warnings.contains { $0.contains("a component's output 'out' is not registered") }, "\(loaded.warnings)")
    }

    @Test func unknownDataNamesAreLeftToTheCoordinatorAndLocalNamesCannotBeRegistered() throws {
        let fixture = try Fixture()
        try fixture.makeDirectory("registry")
        let registry = LocalRegistry(root: fixture.path("registry"))
        let directory = registry.directory(of: .data, in: .workspace, name: "local-rows", version: "1")
        try FileManager.default.createDirectory(atPath: directory + "/content", withIntermediateDirectories: true)
        try JSONEncoder().encode(RegisteredAsset(
            kind: .data, name: "local-rows", version: "1", createdAt: 1, digest: "d", dataType: .uriFolder, contentPath: "content"
        )).write(to: URL(fileURLWithPath: directory + "/" + LocalRegistry.recordFileName))

        let loaded = try plan("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.x}} ${{inputs.y}}
                inputs:
                  x: {type: uri_folder, path: azureml:from-a-run@latest}
                  y: {type: uri_folder, path: azureml:local-rows:1}
            """, registry: registry, in: fixture)
        let inputs = try #require(loaded.step("a")?.inputs)
        #expect(inputs.first { $0.name == "x" }?.source == .uri("azureml:from-a-run@latest"))
        #expect(inputs.first { $0.name == "y" }?.source == .localPath(directory + "/content"))
        // A version the local registry lacks, of a name it holds, is still an error here.
        let missing = try #require(try error("""
            type: pipeline
            jobs:
              a:
                command: echo ${{inputs.y}}
                inputs:
                  y: {type: uri_folder, path: azureml:local-rows:9}
            """, registry: registry, in: fixture))
        #expect(missing.message.contains("has no version '9'"), "\(missing)")

        let clash = try #require(try error("""
            type: pipeline
            jobs:
              a:
                command: echo
                outputs:
                  out: {type: uri_folder, name: local-rows}
            """, registry: registry, in: fixture))
        #expect(clash.message.contains("a name the local registry already holds"), "\(clash)")
    }
}
