import Foundation
import Testing
@testable import Spec

/// Component and data asset files checked for registration.
@Suite struct ComponentDefinitionTests {
    @Test func aCommandComponentGivesItsNameVersionCodeAndEnvironmentFiles() throws {
        let fixture = try Fixture([
            "train/train.yml": """
                type: command
                name: heart_train
                version: 3
                description: Trains
                code: ./src
                environment:
                  image: python:3.11
                  conda_file: ./env/conda.yml
                command: python train.py
                """,
            "train/src/train.py": "print(1)\n",
            "train/env/conda.yml": "name: x\n",
            "other/other.yml": """
                type: command
                name: other
                environment:
                  image: python:3.11
                  conda_file: ../shared/conda.yml
                command: python other.py
                """,
            "shared/conda.yml": "name: x\n",
        ])
        let definition = try ComponentDefinition.load(file: fixture.path("train/train.yml"))
        #expect(definition.name == "heart_train")
        #expect(definition.version == "3")
        #expect(definition.description == "Trains")
        #expect(definition.codeDirectory == fixture.path("train/src"))
        #expect(!definition.isPipeline)
        #expect(definition.environmentFiles == ["env/conda.yml"])
        #expect(definition.warnings.isEmpty, "\(definition.warnings)")
        let other = try ComponentDefinition.load(file: fixture.path("other/other.yml"))
        #expect(other.environmentFiles.isEmpty)
        #expect(other.warnings.contains { $0.contains("'../shared/conda.yml' is outside the component's folder") }, "\(other.warnings)")
    }

    @Test func aNameOutsideAzuresRuleIsRefusedAtItsLine() throws {
        let fixture = try Fixture(["c.yml": "type: command\ncommand: echo\nname: heart-train\n"])
        let error = #expect(throws: SpecError.self) { try ComponentDefinition.load(file: fixture.path("c.yml")) }
        #expect(error?.line == 3)
        #expect(error?.field == "name")
        #expect(error?.message.contains("may only hold lowercase letters, digits and _") == true, "\(String(describing: error))")
    }

    @Test func dataAssetTypesAreCheckedAgainstThePath() throws {
        let fixture = try Fixture([
            "rows/a.csv": "a\n",
            "file.yml": "name: rows\ntype: uri_file\npath: ./rows\n",
            "table.yml": "name: rows\ntype: mltable\npath: ./rows\n",
            "good.yml": "name: Rows-1.0\npath: rows\nversion: 2\n",
        ])
        let file = #expect(throws: SpecError.self) { try DataAssetDefinition.load(file: fixture.path("file.yml")) }
        #expect(file?.message.contains("type is uri_file but './rows' is a folder") == true, "\(String(describing: file))")
        let table = #expect(throws: SpecError.self) { try DataAssetDefinition.load(file: fixture.path("table.yml")) }
        #expect(table?.message.contains("needs an MLTable file") == true, "\(String(describing: table))")
        let good = try DataAssetDefinition.load(file: fixture.path("good.yml"))
        #expect(good.type == .uriFolder)
        #expect(good.version == "2")
        #expect(good.path == fixture.path("rows"))
    }
}
