import Foundation
import Testing
@testable import Spec

/// `azureml:` component and data references resolved against a registry folder written by the test.
@Suite struct RegistryResolutionTests {
    /// A fixture with a `registry/` folder and helpers to register versions in it, as `conduit component
    /// create` and `conduit data create` lay them out.
    final class Workspace {
        let fixture: Fixture
        var registry: LocalRegistry { LocalRegistry(root: fixture.path("registry")) }

        init(_ files: [String: String]) throws {
            fixture = try Fixture(files)
            try fixture.makeDirectory("registry")
        }

        func record(_ asset: RegisteredAsset, scope: AssetReference.Scope) throws {
            let directory = registry.directory(of: asset.kind, in: scope, name: asset.name, version: asset.version)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try JSONEncoder().encode(asset).write(to: URL(fileURLWithPath: directory + "/" + LocalRegistry.recordFileName))
        }

        /// Registers a command component whose command prints `message`, with a code folder.
        func component(_ name: String, _ version: String, at time: Int64, message: String, scope: AssetReference.Scope = .workspace) throws {
            let directory = registry.directory(of: .component, in: scope, name: name, version: version)
            try FileManager.default.createDirectory(atPath: directory + "/code", withIntermediateDirectories: true)
            try "print('\(message)')\n".write(toFile: directory + "/code/main.py", atomically: true, encoding: .utf8)
            try """
                type: command
                name: \(name)
                version: "\(version)"
                inputs:
                  data: {type: uri_folder}
                  rate: {type: number, default: 0.5}
                outputs:
                  model: {type: uri_folder}
                code: ./src
                command: python main.py --say \(message) --rate ${{inputs.rate}} ${{inputs.data}} ${{outputs.model}}
                """.write(toFile: directory + "/\(name).yml", atomically: true, encoding: .utf8)
            try record(RegisteredAsset(
                kind: .component, name: name, version: version, createdAt: time, digest: message,
                definitionFile: "\(name).yml", codeDirectory: "code"
            ), scope: scope)
        }

        /// Registers the pipeline component `inner` version 1: one step `fit` running `azureml:train:1`
        /// on its input `rows`.
        func innerPipelineComponent() throws {
            let directory = registry.directory(of: .component, in: .workspace, name: "inner", version: "1")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
                type: pipeline
                name: inner
                inputs:
                  rows: {type: uri_folder}
                jobs:
                  fit:
                    component: azureml:train:1
                    inputs:
                      data: ${{parent.inputs.rows}}
                """.write(toFile: directory + "/inner.yml", atomically: true, encoding: .utf8)
            try record(RegisteredAsset(
                kind: .component, name: "inner", version: "1", createdAt: 30, digest: "p", definitionFile: "inner.yml"
            ), scope: .workspace)
        }

        /// Registers a data asset holding one file `rows.csv` (folder) or the file itself (`uri_file`).
        func data(_ name: String, _ version: String, type: DataType, at time: Int64) throws {
            let directory = registry.directory(of: .data, in: .workspace, name: name, version: version)
            try FileManager.default.createDirectory(atPath: directory + "/content", withIntermediateDirectories: true)
            try "a,b\n1,2\n".write(toFile: directory + "/content/rows.csv", atomically: true, encoding: .utf8)
            try record(RegisteredAsset(
                kind: .data, name: name, version: version, createdAt: time, digest: "d", dataType: type,
                contentPath: type == .uriFile ? "content/rows.csv" : "content"
            ), scope: .workspace)
        }

        func load(_ overrides: [String] = []) throws(SpecError) -> PipelinePlan {
            try PipelineLoader.load(file: fixture.path("pipeline.yml"), options: .init(overrides: overrides, registry: registry))
        }

        func error(_ overrides: [String] = []) -> SpecError? {
            do {
                _ = try load(overrides)
                return nil
            } catch {
                return error
            }
        }
    }

    static func pipeline(component: String, data: String = "./local") -> [String: String] {
        [
            "local/x.txt": "x\n",
            "pipeline.yml": """
                type: pipeline
                inputs:
                  rows: {type: uri_folder, path: \(data)}
                jobs:
                  train:
                    component: \(component)
                    inputs:
                      data: ${{parent.inputs.rows}}
                """,
        ]
    }

    @Test func aPinnedVersionLoadsTheRegisteredDefinitionAndCodeSnapshot() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml:train:1"))
        try workspace.component("train", "1", at: 10, message: "one")
        try workspace.component("train", "2", at: 20, message: "two")
        let step = try #require(try workspace.load().step("train"))
        #expect(step.commandTemplate.contains("--say one"))
        #expect(step.codeDirectory == workspace.registry.directory(of: .component, in: .workspace, name: "train", version: "1") + "/code")
        #expect(step.component == "azureml:train:1")
        #expect(step.parameters["rate"] == "0.5")
    }

    @Test func latestIsTheMostRecentlyCreatedVersionAndIsRecordedAtItsVersion() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml:train@latest"))
        try workspace.component("train", "2", at: 10, message: "two")
        try workspace.component("train", "1", at: 20, message: "one-again")
        let step = try #require(try workspace.load().step("train"))
        #expect(step.commandTemplate.contains("--say one-again"))
        #expect(step.component == "azureml:train:1")
    }

    @Test func namedRegistryReferencesResolveInTheirOwnNamespace() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml://registries/shared/components/train/labels/latest"))
        try workspace.component("train", "1", at: 10, message: "workspace")
        try workspace.component("train", "4", at: 5, message: "shared", scope: .registry("shared"))
        let step = try #require(try workspace.load().step("train"))
        #expect(step.commandTemplate.contains("--say shared"))
        #expect(step.component == "azureml://registries/shared/components/train/versions/4")
    }

    @Test func registeredDataBecomesItsContentWithTheAssetsType() throws {
        let workspace = try Workspace([
            "pipeline.yml": """
                type: pipeline
                inputs:
                  folder: {path: "azureml:rows@latest"}
                jobs:
                  show:
                    command: ls ${{inputs.folder}} && cat ${{inputs.file}}
                    inputs:
                      folder: ${{parent.inputs.folder}}
                      file: {path: "azureml:single:3"}
                """,
        ])
        try workspace.data("rows", "1", type: .uriFolder, at: 1)
        try workspace.data("single", "3", type: .uriFile, at: 2)
        let step = try #require(try workspace.load().step("show"))
        let folder = try #require(step.inputs.first { $0.name == "folder" })
        let file = try #require(step.inputs.first { $0.name == "file" })
        #expect(folder.source == .localPath(workspace.registry.directory(of: .data, in: .workspace, name: "rows", version: "1") + "/content"))
        #expect(folder.type == .uriFolder)
        #expect(file.source == .localPath(workspace.registry.directory(of: .data, in: .workspace, name: "single", version: "3") + "/content/rows.csv"))
        #expect(file.type == .uriFile, "the asset's type, since the input gives none")
    }

    @Test func anOverrideCanPointADataInputAtARegisteredAsset() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml:train:1"))
        try workspace.component("train", "1", at: 10, message: "one")
        try workspace.data("rows", "2", type: .uriFolder, at: 1)
        let step = try #require(try workspace.load(["inputs.rows.path=azureml:rows:2"]).step("train"))
        #expect(step.inputs.first?.source == .localPath(workspace.registry.directory(of: .data, in: .workspace, name: "rows", version: "2") + "/content"))
    }

    @Test func datastoreURIsStillPassThrough() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml:train:1", data: "azureml://datastores/blob/paths/rows"))
        try workspace.component("train", "1", at: 10, message: "one")
        #expect(try workspace.load().step("train")?.inputs.first?.source == .uri("azureml://datastores/blob/paths/rows"))
    }

    @Test(arguments: [
        ("azureml:trian:1", "no component asset named 'trian' (registered: score, train) in the registry"),
        ("azureml:train:9", "component 'train' has no version '9' (versions: 1, 2) in the registry"),
        ("azureml:train@prod", "label 'prod' is not supported; only @latest"),
        ("azureml://registries/nowhere/components/train/versions/1", "no registry named 'nowhere' in"),
        ("azureml:train", "names no version; write azureml:train:VERSION or azureml:train@latest"),
    ])
    func badComponentReferencesNameFileLineFieldAndWhatExists(reference: String, message: String) throws {
        let workspace = try Workspace(Self.pipeline(component: reference))
        try workspace.component("train", "1", at: 10, message: "one")
        try workspace.component("train", "2", at: 20, message: "two")
        try workspace.component("score", "1", at: 30, message: "score")
        let error = try #require(workspace.error())
        #expect(error.file == workspace.fixture.path("pipeline.yml"))
        #expect(error.line == 6)
        #expect(error.field == "jobs.train.component")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func anUnknownDataAssetIsRefusedAtItsPath() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml:train:1", data: "azureml:rowz@latest"))
        try workspace.component("train", "1", at: 10, message: "one")
        try workspace.data("rows", "1", type: .uriFolder, at: 1)
        // Without word from the coordinator, a name the registry lacks is left to it (a run may have
        // registered it).
        let deferred = try workspace.load()
        #expect(deferred.steps.flatMap(\.inputs).contains { $0.source == .uri("azureml:rowz@latest") })
        // With the data assets runs registered, it is refused here, at its line, naming both kinds.
        let produced = RegistryIndex([RegisteredAsset(kind: .data, name: "scores", version: "1", createdAt: 1, digest: "d")])
        let options = PipelineLoader.Options(registry: workspace.registry, producedData: produced)
        let error: SpecError
        do {
            _ = try PipelineLoader.load(file: workspace.fixture.path("pipeline.yml"), options: options)
            Issue.record("an unknown data asset was accepted")
            return
        } catch let caught {
            error = caught
        }
        #expect(error.code == .unknownAsset)
        #expect(error.line == 3)
        #expect(error.field == "inputs.rows.path")
        #expect(error.message.hasPrefix("no data asset named 'rowz' (registered: rows, scores)"), "\(error)")
    }

    @Test func withoutARegistryComponentReferencesAreRefusedAndDataPassesThrough() throws {
        let fixture = try Fixture(Self.pipeline(component: "azureml:train:1"))
        let error = try #require(fixture.error())
        #expect(error.message.contains("no registry was given"), "\(error)")
        let data = try Fixture([
            "pipeline.yml": """
                type: pipeline
                jobs:
                  show:
                    command: ls ${{inputs.rows}}
                    inputs:
                      rows: {type: uri_folder, path: "azureml:rows:1"}
                """,
        ])
        #expect(try data.load().step("show")?.inputs.first?.source == .uri("azureml:rows:1"))
    }

    @Test func aRegisteredPipelineComponentExpandsIntoItsRegisteredSteps() throws {
        let workspace = try Workspace([
            "local/x.txt": "x\n",
            "pipeline.yml": """
                type: pipeline
                jobs:
                  inner:
                    type: pipeline
                    component: azureml:inner@latest
                    inputs:
                      rows: {type: uri_folder, path: ./local}
                """,
        ])
        try workspace.component("train", "1", at: 10, message: "one")
        try workspace.innerPipelineComponent()
        let step = try #require(try workspace.load().step("inner/fit"))
        #expect(step.component == "azureml:train:1")
        #expect(step.inputs.first?.source == .localPath(workspace.fixture.path("local")))
    }

    @Test func aJobCanBeARegisteredPipelineComponentAndSetCanSwapAStepsVersion() throws {
        let workspace = try Workspace([
            "local/x.txt": "x\n",
            "pipeline.yml": """
                type: pipeline
                component: azureml:inner@latest
                inputs:
                  rows: {type: uri_folder, path: ./local}
                """,
            "steps.yml": """
                type: pipeline
                jobs:
                  train:
                    component: azureml:train:1
                    inputs:
                      data: {type: uri_folder, path: ./local}
                """,
        ])
        try workspace.component("train", "1", at: 10, message: "one")
        try workspace.component("train", "2", at: 20, message: "two")
        try workspace.innerPipelineComponent()
        let plan = try workspace.load()
        #expect(plan.steps.map(\.name) == ["fit"])
        #expect(plan.step("fit")?.inputs.first?.source == .localPath(workspace.fixture.path("local")))

        let options = PipelineLoader.Options(overrides: ["jobs.train.component=azureml:train:2"], registry: workspace.registry)
        let swapped = try #require(try PipelineLoader.load(file: workspace.fixture.path("steps.yml"), options: options).step("train"))
        #expect(swapped.component == "azureml:train:2")
        #expect(swapped.commandTemplate.contains("--say two"))
    }

    @Test func aPipelineStepNamingARegisteredCommandComponentIsRefused() throws {
        let workspace = try Workspace([
            "pipeline.yml": """
                type: pipeline
                jobs:
                  inner:
                    type: pipeline
                    component: azureml:train:1
                """,
        ])
        try workspace.component("train", "1", at: 10, message: "one")
        let error = try #require(workspace.error())
        #expect(error.message.contains("needs a pipeline component, but this component has type 'command'"), "\(error)")
    }

    @Test func theResolvedComponentTravelsInThePlanJSON() throws {
        let workspace = try Workspace(Self.pipeline(component: "azureml:train@latest"))
        try workspace.component("train", "3", at: 10, message: "three")
        let plan = try workspace.load()
        let decoded = try JSONDecoder().decode(PipelinePlan.self, from: Data(PlanJSON.encode(plan).utf8))
        #expect(decoded == plan)
        #expect(decoded.step("train")?.component == "azureml:train:3")
    }
}
