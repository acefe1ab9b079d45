import Foundation
import Testing
@testable import Spec

/// Recompiling a planned step's command with new parameter values, and `--set` for one step.
struct StepReplayTests {
    private static let pipeline = """
        type: pipeline
        jobs:
          train:
            component:
              command: >-
                python train.py --lr ${{inputs.lr}} --data ${{inputs.data}}
                $[[--note ${{inputs.note}}]] $[[--seed ${{inputs.seed}}]] --out ${{outputs.model}}
              environment: {image: python}
              inputs:
                lr: {type: number}
                data: {type: uri_folder}
                note: {type: string, optional: true}
                seed: {type: integer, optional: true}
              outputs:
                model: {type: uri_folder}
            inputs:
              lr: 0.1
              data: {type: uri_folder, path: ./data}
              seed: 7
        """

    private func step() throws -> PlannedStep {
        let fixture = try Fixture(["pipeline.yml": Self.pipeline])
        try fixture.makeDirectory("data")
        return try #require(try fixture.load().steps.first)
    }

    @Test func recompilingWithThePlansOwnParametersGivesThePlansCommand() throws {
        let step = try step()
        #expect(try step.command(withParameters: step.parameters) == step.command)
    }

    @Test func aChangedParameterAppearsInTheRenderedCommand() throws {
        let step = try step()
        var parameters = step.parameters
        parameters["lr"] = "0.01"
        let rendered = try step.command(withParameters: parameters).render(inputPaths: ["data": "/d"], outputPaths: ["model": "/m"])
        #expect(rendered.command == "python train.py --lr 0.01 --data /d  --seed 7 --out /m")
        let original = try step.command.render(inputPaths: ["data": "/d"], outputPaths: ["model": "/m"])
        #expect(original.command == "python train.py --lr 0.1 --data /d  --seed 7 --out /m")
    }

    @Test func overridesSplitIntoParametersAndDataPaths() throws {
        let step = try step()
        let overrides = try StepOverrides.parse(["inputs.lr=0.5", "inputs.data=local/data"], for: step, currentDirectory: "/work")
        #expect(overrides.parameters == ["lr": "0.5"])
        #expect(overrides.dataPaths == ["data": "/work/local/data"])
        let absolute = try StepOverrides.parse(["inputs.data=/abs"], for: step, currentDirectory: "/work")
        #expect(absolute.dataPaths == ["data": "/abs"])
    }

    @Test(arguments: [
        ("lr=0.5", "is not inputs.NAME"),
        ("inputs.lr", "expected inputs.NAME=VALUE"),
        ("inputs.epochs=3", "has no input 'epochs' with a value (its inputs: data, lr, seed)"),
        ("inputs.data=", "is a data input; expected a local path"),
        ("outputs.model=x", "is not inputs.NAME"),
    ])
    func badOverridesAreRefusedPrecisely(assignment: String, message: String) throws {
        let step = try step()
        let error = #expect(throws: SpecError.self) { try StepOverrides.parse([assignment], for: step, currentDirectory: "/") }
        #expect(error?.code == .invalidOverride)
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test func anInputSetTwiceIsRefused() throws {
        let step = try step()
        let error = #expect(throws: SpecError.self) { try StepOverrides.parse(["inputs.lr=1", "inputs.lr=2"], for: step, currentDirectory: "/") }
        #expect(error?.description.contains("set twice") == true)
    }
}
