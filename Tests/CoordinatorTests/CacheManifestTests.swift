@testable import Coordinator
import Spec
import Testing

@Suite struct CacheManifestTests {
    let base = CacheManifest(
        command: "python train.py --lr ${{inputs.lr}}", parameters: ["lr": "0.1", "epochs": "300"],
        code: .init(digest: "c1", files: ["train.py": "f1", "common.py": "f2"]), environment: #"{"image":"python:3.11"}"#,
        inputs: ["data": .init(type: "uri_folder", digest: "d1")], outputs: ["model": "uri_folder"]
    )

    @Test func canonicalJSONIsStableAndKeyOrderIndependent() {
        var reordered = base
        reordered.parameters = ["epochs": "300", "lr": "0.1"]
        #expect(reordered.canonicalJSON == base.canonicalJSON)
        #expect(CacheManifest.decode(json: base.canonicalJSON) == base)
    }

    @Test func identicalManifestsHaveNoDifferences() {
        #expect(base.differences(from: base).isEmpty)
    }

    @Test func eachChangedFieldIsNamed() {
        var changed = base
        changed.parameters["lr"] = "0.01"
        changed.code = .init(digest: "c2", files: ["train.py": "f1", "common.py": "f3", "new.py": "f4"])
        changed.inputs["data"] = .init(type: "uri_folder", digest: "d2")
        changed.environment = #"{"image":"python:3.12"}"#
        changed.command += " --verbose"
        changed.outputs["report"] = "uri_folder"
        let differences = changed.differences(from: base)
        #expect(differences == [
            "command: the command text changed",
            "parameter lr: 0.1 → 0.01",
            "code: common.py changed",
            "code: new.py added",
            "environment: the environment definition changed",
            "input data: content changed",
            "output report: added",
        ])
    }

    @Test func parameterAddedAndRemovedAreNamed() {
        var changed = base
        changed.parameters["l2"] = "0.001"
        changed.parameters["epochs"] = nil
        #expect(changed.differences(from: base) == ["parameter epochs: removed (was 300)", "parameter l2: added (0.001)"])
    }

    @Test func canonicalJSONEscapesEverythingAndReadsBack() {
        var odd = base
        odd.command = "echo \"quoted\" \\ back\tslash\nnew line \u{01} é 🚀 /path"
        odd.parameters["weird \"key\""] = "line\r\n"
        odd.inputs["remote"] = .init(type: "uri_file", uri: "https://example.org/a?b=c&d")
        odd.code = nil
        let json = odd.canonicalJSON
        #expect(!json.contains("\n"), "raw newlines must be escaped: \(json)")
        #expect(json.hasPrefix("{\"command\":"))
        #expect(CacheManifest.decode(json: json) == odd)
        #expect(odd.canonicalJSON == json)
    }
}

/// Inputs read from datastores: keyed by content, explained by path; which outputs may write a path.
@Suite struct DatastoreInputManifestTests {
    private let step = PlannedStep(
        name: "read", commandTemplate: "read", command: CommandTemplate(segments: [.text("read")]),
        inputs: [StepDataInput(name: "raw", type: .uriFolder, source: .uri("azureml://datastores/d/paths/x"))]
    )

    @Test func newBytesAtTheSamePathChangeTheKeyAndNameThePath() {
        let before = CacheManifest(step: step, inputs: ["raw": "digest-1"], code: nil)
        let same = CacheManifest(step: step, inputs: ["raw": "digest-1"], code: nil)
        let after = CacheManifest(step: step, inputs: ["raw": "digest-2"], code: nil)
        #expect(before.key == same.key)
        #expect(before.key != after.key)
        #expect(before.inputs["raw"] == CacheManifest.Input(type: "uri_folder", digest: "digest-1", uri: "azureml://datastores/d/paths/x"))
        #expect(after.differences(from: before) == ["input raw: azureml://datastores/d/paths/x changed"])
    }

    @Test func outputsWritingAPathOrAFolderAboveItAreItsWriters() throws {
        let datastores = Datastores(directories: ["d": "/srv/d", "e": "/srv/e"], defaultName: "d")
        let writer = { (name: String, path: String) in
            PlannedStep(
                name: name, commandTemplate: "w", command: CommandTemplate(segments: [.text("w")]),
                outputs: [StepDataOutput(name: "out", type: .uriFolder, path: path)])
        }
        let plan = PipelinePlan(name: "p", sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
            writer("exact", "azureml://datastores/d/paths/data/x"),
            writer("parent", "azureml://datastores/${{default_datastore}}/paths/data"),
            writer("perRun", "azureml://datastores/d/paths/${{name}}/x"),
            writer("child", "azureml://datastores/d/paths/data/x/deeper"),
            writer("otherStore", "azureml://datastores/e/paths/data/x"),
            writer("sibling", "azureml://datastores/d/paths/data/y"),
        ], outputs: [])
        let location = try datastores.input("azureml://datastores/d/paths/data/x")
        #expect(datastores.writers(of: location, in: plan).map(\.step) == ["exact", "parent"])
        let perRun = try datastores.input("azureml://datastores/d/paths/run-20260101-120000-abcd1234.perRun/x/file.csv")
        #expect(datastores.writers(of: perRun, in: plan).map(\.step) == ["perRun"])
    }
}
