import Foundation
import Testing
@testable import Spec

/// The pure registry index and reference parsing: versions, `@latest`, next versions, create decisions, names.
@Suite struct RegistryIndexTests {
    static func asset(_ name: String, _ version: String, at time: Int64, digest: String = "d") -> RegisteredAsset {
        RegisteredAsset(kind: .component, name: name, version: version, createdAt: time, digest: digest)
    }

    @Test func latestIsTheMostRecentlyCreatedVersionNotTheLargest() throws {
        let index = RegistryIndex([Self.asset("train", "2", at: 100), Self.asset("train", "1", at: 200), Self.asset("prep", "5", at: 50)])
        #expect(index.names == ["prep", "train"])
        #expect(index.versions(of: "train").map(\.version) == ["2", "1"])
        #expect(index.latest(of: "train")?.version == "1")
        #expect(index.latest(of: "missing") == nil)
        #expect(try index.resolve("train", .label("latest"), kind: .component).get().version == "1")
        #expect(try index.resolve("train", .version("2"), kind: .component).get().createdAt == 100)
    }

    @Test func equalCreationTimesFallBackToTheNumericVersion() {
        let index = RegistryIndex([Self.asset("train", "10", at: 7), Self.asset("train", "9", at: 7)])
        #expect(index.latest(of: "train")?.version == "10")
    }

    @Test(arguments: [
        ([String](), "1"), (["1"], "2"), (["1", "3", "beta"], "4"), (["v1", "beta"], "1"), (["12", "2"], "13"),
    ])
    func theNextVersionIsOneMoreThanTheLargestInteger(versions: [String], next: String) {
        let index = RegistryIndex(versions.enumerated().map { Self.asset("train", $1, at: Int64($0)) })
        #expect(index.nextVersion(of: "train") == next)
    }

    @Test func creatingDecidesBetweenNewUnchangedAndConflict() {
        let index = RegistryIndex([Self.asset("train", "1", at: 1, digest: "aaa")])
        #expect(index.decideCreate(name: "train", version: nil, digest: "bbb") == .create(version: "2"))
        #expect(index.decideCreate(name: "train", version: "1", digest: "aaa") == .unchanged(version: "1"))
        #expect(index.decideCreate(name: "train", version: "1", digest: "bbb") == .conflict(version: "1", suggestion: "2"))
        #expect(index.decideCreate(name: "other", version: nil, digest: "x") == .create(version: "1"))
    }

    @Test func lookupFailuresNameWhatExists() {
        let index = RegistryIndex([Self.asset("train", "1", at: 1), Self.asset("train", "2", at: 2), Self.asset("score", "1", at: 3)])
        guard case .failure(let unknownName) = index.resolve("trian", .version("1"), kind: .component) else {
            Issue.record("an unknown name resolved")
            return
        }
        #expect(unknownName.message == "no component asset named 'trian' (registered: score, train)")
        guard case .failure(let unknownVersion) = index.resolve("train", .version("7"), kind: .component) else {
            Issue.record("an unknown version resolved")
            return
        }
        #expect(unknownVersion.message == "component 'train' has no version '7' (versions: 1, 2)")
        guard case .failure(let label) = index.resolve("train", .label("production"), kind: .component) else {
            Issue.record("an unsupported label resolved")
            return
        }
        #expect(label.message.contains("label 'production' is not supported"))
        guard case .failure(let empty) = RegistryIndex().resolve("train", .version("1"), kind: .data) else {
            Issue.record("an empty index resolved")
            return
        }
        #expect(empty.message == "no data asset named 'train' (none is registered)")
    }

    @Test(arguments: ["train", "a", "heart_train_2", String(repeating: "a", count: 255)])
    func validComponentNames(name: String) {
        #expect(RegistryIndex.problem(withName: name, kind: .component) == nil)
    }

    @Test(arguments: ["", "Train", "2train", "_train", "heart-train", "train.v2", "tr ain", String(repeating: "a", count: 256)])
    func invalidComponentNames(name: String) {
        #expect(RegistryIndex.problem(withName: name, kind: .component) != nil)
    }

    @Test func dataNamesAllowDashesDotsAndCapitals() {
        #expect(RegistryIndex.problem(withName: "Heart-classifier.train_1", kind: .data) == nil)
        #expect(RegistryIndex.problem(withName: "-heart", kind: .data) != nil)
        #expect(RegistryIndex.problem(withName: "../etc", kind: .data) != nil)
        #expect(RegistryIndex.problem(withName: "a/b", kind: .data) != nil)
    }

    @Test func versionsMayNotClimbOrSeparate() {
        #expect(RegistryIndex.problem(withVersion: "1") == nil)
        #expect(RegistryIndex.problem(withVersion: "2024.01-rc_1") == nil)
        for bad in ["", "..", ".1", "1/2", "1:2", "1@2", String(repeating: "1", count: 65)] {
            #expect(RegistryIndex.problem(withVersion: bad) != nil, "\(bad)")
        }
    }

    @Test(arguments: [
        ("azureml:train:2", AssetReference(kind: .component, scope: .workspace, name: "train", selector: .version("2"))),
        ("azureml:train@latest", AssetReference(kind: .component, scope: .workspace, name: "train", selector: .label("latest"))),
        ("azureml://registries/shared/components/train/versions/3",
         AssetReference(kind: .component, scope: .registry("shared"), name: "train", selector: .version("3"))),
        ("azureml://registries/shared/components/train/labels/latest",
         AssetReference(kind: .component, scope: .registry("shared"), name: "train", selector: .label("latest"))),
    ])
    func componentReferencesParseAndPrintBack(text: String, expected: AssetReference) {
        #expect(AssetReference.parse(text, kind: .component) == .reference(expected))
        #expect(expected.description == text)
    }

    @Test func pathsDatastoresAndARMIdsAreNotAssetReferences() {
        for text in ["./data", "/abs/x.csv", "azureml://datastores/blob/paths/x", "azureml://jobs/j/outputs/o",
                     "azureml:/subscriptions/s/resourceGroups/r/workspaces/w/data/x/versions/1", "https://x/y"] {
            #expect(AssetReference.parse(text, kind: .data) == .notAReference, "\(text)")
        }
    }

    @Test func malformedReferencesSayWhatWasExpected() {
        guard case .invalid(let noVersion) = AssetReference.parse("azureml:train", kind: .component) else {
            Issue.record("azureml:train parsed")
            return
        }
        #expect(noVersion.contains("azureml:train:VERSION or azureml:train@latest"))
        guard case .invalid(let wrongKind) = AssetReference.parse("azureml://registries/r/environments/e/versions/1", kind: .component) else {
            Issue.record("an environment URI parsed as a component")
            return
        }
        #expect(wrongKind.contains("'environments' where components were expected"))
        for text in ["azureml:a:b:c", "azureml:@latest", "azureml://registries/r/components/train", "azureml://registries/r/components/t/tags/x"] {
            guard case .invalid = AssetReference.parse(text, kind: .component) else {
                Issue.record("\(text) was not refused")
                continue
            }
        }
    }
}
