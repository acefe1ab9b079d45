import Foundation
import Testing
@testable import Spec

/// Pipeline structure: components, bindings, checks, ordering, settings and warnings.
struct LoaderTests {
    /// A small train/evaluate pipeline with component files, in the spirit of the heart example.
    static func trainingFixture(pipelineExtra: String = "", trainInputs: String = "") throws -> Fixture {
        let fixture = try Fixture([
            "components/train.yml": """
                type: command
                display_name: Train
                is_deterministic: false
                inputs:
                  data: {type: uri_file}
                  lr: {type: number, default: 0.01, min: 0.0001, max: 1}
                  epochs: {type: integer, default: 10, min: 1}
                  optimizer: {type: string, default: sgd, enum: [sgd, adam]}
                  verbose: {type: boolean, optional: true}
                outputs:
                  model: {type: uri_folder}
                code: ../src
                environment:
                  image: python:3.11
                  conda_file: {dependencies: [numpy], name: env}
                command: >-
                  python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}
                  --epochs ${{inputs.epochs}} --optimizer ${{inputs.optimizer}}
                  $[[--verbose ${{inputs.verbose}}]] --model ${{outputs.model}}
                """,
            "data/table.csv": "a,b\n1,2\n",
            "src/train.py": "print('hi')\n",
            "pipeline.yml": """
                type: pipeline
                display_name: training
                compute: azureml:top
                settings:
                  default_compute: azureml:cpu
                  force_rerun: yes
                  mystery_setting: 1
                inputs:
                  table: {type: uri_file, path: data/table.csv}
                  rate: 0.5
                outputs:
                  trained: {mode: upload}
                jobs:
                  train:
                    component: file:./components/train.yml
                    compute: azureml:gpu
                    limits: {timeout: 600}
                    environment_variables: {SEED: 7, DEBUG: on}
                    inputs:
                      data: ${{parent.inputs.table}}
                      lr: ${{ parent.inputs.rate }}
                \(trainInputs)
                    outputs:
                      model: ${{parent.outputs.trained}}
                  report:
                    command: ls ${{inputs.model}} ${{inputs.lr}}
                    inputs:
                      model: ${{parent.jobs.train.outputs.model}}
                      lr: ${{parent.jobs.train.inputs.lr}}
                \(pipelineExtra)
                """,
        ])
        return fixture
    }

    @Test func componentStepResolvesBindingsDefaultsAndSettings() throws {
        let fixture = try Self.trainingFixture()
        let plan = try fixture.load()
        #expect(plan.name == "training")
        #expect(plan.sourceFile == fixture.path("pipeline.yml"))
        #expect(plan.settings == PipelineSettings(defaultCompute: "azureml:cpu", continueOnStepFailure: false, forceRerun: true))
        let train = try #require(plan.step("train"))
        #expect(train.displayName == "Train")
        #expect(train.isDeterministic == false)
        #expect(train.compute == "azureml:gpu")
        #expect(train.timeoutSeconds == 600)
        #expect(train.environmentVariables == ["SEED": "7", "DEBUG": "True"])
        #expect(train.codeDirectory == fixture.path("src"))
        #expect(train.environment == #"{"conda_file":{"dependencies":["numpy"],"name":"env"},"image":"python:3.11"}"#)
        #expect(train.parameters == ["lr": "0.5", "epochs": "10", "optimizer": "sgd"])
        #expect(train.inputs == [StepDataInput(name: "data", type: .uriFile, source: .localPath(fixture.path("data/table.csv")))])
        #expect(train.preview == "python train.py --data <in:data> --lr 0.5 --epochs 10 --optimizer sgd  --model <out:model>")
        let report = try #require(plan.step("report"))
        #expect(report.compute == "azureml:cpu")
        #expect(report.parameters == ["lr": "0.5"])
        #expect(report.inputs == [StepDataInput(name: "model", type: .uriFolder, source: .stepOutput(step: "train", output: "model"))])
        #expect(plan.outputs == [PipelineOutputBinding(name: "trained", type: .uriFolder, step: "train", output: "model")])
        #expect(plan.warnings.contains { $0.contains("mystery_setting") && $0.contains("pipeline.yml:7:") })
    }

    @Test func topLevelComputeIsTheLastFallback() throws {
        let plan = try Fixture.load("""
            type: pipeline
            compute: azureml:top
            jobs:
              a: {command: echo}
            """)
        #expect(plan.steps[0].compute == "azureml:top")
        #expect(plan.steps[0].environment == "")
    }

    @Test(arguments: [
        ("      epochs: 0", SpecError.Code.outOfRange, "below min 1"),
        ("      epochs: abc", .invalidType, "expects an integer"),
        ("      verbose: maybe", .invalidType, "expects a boolean"),
        ("      optimizer: adamw", .invalidEnum, "'adamw'"),
        ("      epochs: ${{parent.inputs.table}}", .invalidType, "bound to data"),
    ])
    func parameterChecksNameTheInput(_ inputs: String, _ code: SpecError.Code, _ words: String) throws {
        let fixture = try Self.trainingFixture(trainInputs: inputs)
        let error = try #require(fixture.error())
        #expect(error.code == code, "\(error)")
        #expect(error.description.contains(words), "\(error)")
        #expect(error.file == fixture.path("pipeline.yml"))
        #expect(error.field?.hasPrefix("jobs.train.inputs.") == true)
    }

    @Test func boundValuesAreCheckedWhereTheyAreBound() throws {
        let error = try #require(try Self.trainingFixture().error(overrides: ["inputs.rate=2"]))
        #expect(error.code == .outOfRange)
        #expect(error.description.contains("jobs.train.inputs.lr: 2 is above max 1"))
    }

    @Test func literalGivenToADataInputIsRefusedUnlessItIsAPath() throws {
        let fixture = try Fixture([
            "c.yml": "command: cat ${{inputs.d}}\ninputs: {d: {type: uri_file}}\n",
            "pipeline.yml": "type: pipeline\njobs:\n  a: {component: c.yml, inputs: {d: 3}}\n  b: {component: c.yml, inputs: {d: c.yml}}\n",
        ])
        let error = try #require(fixture.error())
        #expect(error.code == .invalidType)
        #expect(error.message.contains("data input (uri_file)"))
        try fixture.write("pipeline.yml", "type: pipeline\njobs:\n  b: {component: c.yml, inputs: {d: c.yml}}\n")
        #expect(try fixture.load().steps[0].inputs == [StepDataInput(name: "d", type: .uriFile, source: .localPath(fixture.path("c.yml")))])
    }

    @Test func numericStringsAreAcceptedForNumbersAndKeptAsWritten() throws {
        let plan = try Self.trainingFixture(trainInputs: "      epochs: '12'\n      verbose: 'true'").load()
        #expect(plan.step("train")?.parameters["epochs"] == "12")
        #expect(plan.step("train")?.preview.contains("--verbose true") == true)
    }

    @Test func requiredInputLeftUnboundIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                component:
                  command: echo ${{inputs.n}}
                  inputs: {n: {type: integer}}
            """))
        #expect(error.code == .missingInput)
        #expect(error.message.contains("'n'"))
        #expect(error.field == "jobs.a")
    }

    @Test func errorsInAComponentFileNameThatFile() throws {
        let fixture = try Fixture([
            "c.yml": "command: echo ${{inputs.nope}}\ninputs: {yes_input: {type: string, default: x}}\n",
            "pipeline.yml": "type: pipeline\njobs:\n  a:\n    component: ./c.yml\n",
        ])
        let error = try #require(fixture.error())
        #expect(error.file == fixture.path("c.yml"))
        #expect(error.field == "command")
        #expect(error.line == 1)
        #expect(error.message.contains("nope"))
    }

    @Test func badDefaultInAComponentIsReportedThere() throws {
        let fixture = try Fixture([
            "c.yml": "command: echo ${{inputs.n}}\ninputs:\n  n: {type: integer, default: 5, max: 3}\n",
            "pipeline.yml": "type: pipeline\njobs:\n  a:\n    component: c.yml\n",
        ])
        let error = try #require(fixture.error())
        #expect(error.code == .outOfRange)
        #expect(error.file == fixture.path("c.yml"))
        #expect(error.field == "inputs.n.default")
    }

    @Test func unknownOutputOfAKnownStepIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a: {command: "echo > ${{outputs.o}}", outputs: {o: }}
              b:
                command: cat ${{inputs.x}}
                inputs: {x: "${{parent.jobs.a.outputs.p}}"}
            """))
        #expect(error.code == .undeclaredReference)
        #expect(error.message.contains("'p'"))
        #expect(error.message.contains("outputs: o"))
    }

    @Test func threeStepCycleNamesEveryStep() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a: {command: "cat ${{inputs.x}}", inputs: {x: "${{parent.jobs.c.outputs.o}}"}, outputs: {o: }}
              b: {command: "cat ${{inputs.x}}", inputs: {x: "${{parent.jobs.a.outputs.o}}"}, outputs: {o: }}
              c: {command: "cat ${{inputs.x}}", inputs: {x: "${{parent.jobs.b.outputs.o}}"}, outputs: {o: }}
              d: {command: echo}
            """))
        #expect(error.code == .cycle)
        for name in ["a", "b", "c"] { #expect(error.message.contains(name)) }
        #expect(error.message.hasSuffix("a -> b -> c -> a"))
        #expect(error.field == "jobs.a")
    }

    @Test func stepsAreOrderedByDependencyThenFileOrder() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              late: {command: "cat ${{inputs.x}}", inputs: {x: "${{parent.jobs.early.outputs.o}}"}}
              other: {command: echo}
              early: {command: "echo > ${{outputs.o}}", outputs: {o: }}
            """)
        #expect(plan.steps.map(\.name) == ["other", "early", "late"])
    }

    @Test func dataTypesFlowFromPipelineInputsAndOverrides() throws {
        let fixture = try Fixture(["pipeline.yml": """
            type: pipeline
            inputs:
              file: {type: uri_file, path: https://example.com/x.csv}
              folder: {path: azureml:my-data@latest}
            jobs:
              a:
                command: ls ${{inputs.f}} ${{inputs.d}} ${{inputs.t}}
                inputs:
                  f: ${{parent.inputs.file}}
                  d: {path: "${{parent.inputs.folder}}", mode: download}
                  t: {type: mltable, path: "${{parent.inputs.file}}"}
            """])
        let step = try #require(try fixture.load().steps.first)
        #expect(step.inputs == [
            StepDataInput(name: "f", type: .uriFile, source: .uri("https://example.com/x.csv")),
            StepDataInput(name: "d", type: .uriFolder, mode: "download", source: .uri("azureml:my-data@latest")),
            StepDataInput(name: "t", type: .mltable, source: .uri("https://example.com/x.csv")),
        ])
    }

    @Test func pipelineInputsAcceptValueAndTypedForms() throws {
        let plan = try Fixture.load("""
            type: pipeline
            inputs:
              a: {value: 3}
              b: {type: number, default: 1.5}
              c: {type: string}
            jobs:
              s:
                command: echo ${{inputs.a}} ${{inputs.b}} $[[${{inputs.c}}]]
                inputs: {a: "${{parent.inputs.a}}", b: "${{parent.inputs.b}}", c: "${{parent.inputs.c}}"}
            """)
        #expect(plan.steps[0].preview == "echo 3 1.5 ")
        #expect(plan.steps[0].parameters == ["a": "3", "b": "1.5"])
    }

    @Test(arguments: [
        ("inputs: {d: {type: uri_flder, path: .}}", SpecError.Code.invalidType, "'uri_flder'"),
        ("inputs: {d: {type: uri_folder, path: ., mode: rw_mount}}", .invalidEnum, "'rw_mount'"),
        ("outputs: {o: {type: folder}}", .invalidType, "'folder' is not valid; expected one of: uri_file"),
        ("outputs: {o: {type: uri_folder, mode: ro_mount}}", .invalidEnum, "'ro_mount'"),
        ("outputs: {o: {type: string}}", .notSupported, "primitive"),
    ])
    func badTypesAndModesNameTheValueAndTheChoices(_ line: String, _ code: SpecError.Code, _ words: String) throws {
        let error = try #require(try Fixture.error("type: pipeline\n\(line)\njobs: {a: {command: echo}}\n"))
        #expect(error.code == code, "\(error)")
        #expect(error.message.contains(words), "\(error)")
    }

    @Test func missingLocalDataIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            inputs: {d: {type: uri_folder, path: ./absent}}
            jobs: {a: {command: "ls ${{inputs.d}}", inputs: {d: "${{parent.inputs.d}}"}}}
            """))
        #expect(error.code == .fileNotFound)
        #expect(error.field == "inputs.d.path")
    }

    @Test(arguments: [
        ("type: command\njobs: {a: {command: echo}}\n", "type is 'command'"),
        ("jobs: {a: {command: echo}}\n", "missing type"),
        ("just text\n", "type: pipeline"),
        ("", "type: pipeline"),
    ])
    func nonPipelinesAreRefusedMentioningType(_ text: String, _ words: String) throws {
        let error = try #require(try Fixture.error(text))
        #expect(error.code == .notAPipeline)
        #expect(error.description.contains(words), "\(error)")
    }

    @Test func isDeterministicOnAnInlineJobIsAnUnknownField() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a: {command: echo, is_deterministic: false}
            """))
        #expect(error.code == .unknownField)
        #expect(error.message.contains("Unknown field"))
    }

    @Test(arguments: ["parallel", "spark", "automl"])
    func unimplementedNodeTypesSaySo(_ type: String) throws {
        let error = try #require(try Fixture.error("type: pipeline\njobs:\n  a: {type: \(type), trial: x.yml}\n"))
        #expect(error.code == .notSupported)
        #expect(error.message.contains("steps of type '\(type)' cannot run"))
        #expect(error.message.contains("command step"))
        #expect(error.field == "jobs.a.type")
    }

    @Test func partialBindingsAreRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            inputs: {y: 1}
            jobs: {a: {command: "echo ${{inputs.x}}", inputs: {x: "abc_${{parent.inputs.y}}"}}}
            """))
        #expect(error.code == .invalidBinding)
        #expect(error.message.contains("whole value"))
    }

    @Test func aPipelineOutputFilledTwiceIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            outputs: {o: }
            jobs:
              a: {command: "echo > ${{outputs.x}}", outputs: {x: "${{parent.outputs.o}}"}}
              b: {command: "echo > ${{outputs.x}}", outputs: {x: "${{parent.outputs.o}}"}}
            """))
        #expect(error.code == .invalidBinding)
        #expect(error.message.contains("already bound"))
    }

    @Test func outputPathsMayNotClimb() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: echo > ${{outputs.x}}
                outputs: {x: {path: "azureml://datastores/d/paths/a/%2E%2E/b"}}
            """))
        #expect(error.code == .pathEscapes)
        #expect(error.description.contains("path"))
    }

    @Test func unknownKeysBecomeWarningsWithFileAndLine() throws {
        let fixture = try Fixture(["pipeline.yml": """
            type: pipeline
            jobs:
              a:
                command: echo
                colour: blue
            """])
        let plan = try fixture.load()
        #expect(plan.warnings == ["\(fixture.path("pipeline.yml")):5:13: jobs.a.colour: unknown key 'colour' (ignored)"])
    }

    @Test func undeclaredPipelineOutputIsRefused() throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            outputs: {real: }
            jobs: {a: {command: "echo > ${{outputs.x}}", outputs: {x: "${{parent.outputs.imaginary}}"}}}
            """))
        #expect(error.code == .undeclaredReference)
        #expect(error.message.contains("imaginary"))
    }

    @Test func pipelineComponentThatIncludesItselfIsRefused() throws {
        let fixture = try Fixture([
            "loop.yml": "type: pipeline\njobs:\n  again: {type: pipeline, component: ./loop.yml}\n",
            "pipeline.yml": "type: pipeline\njobs:\n  start: {type: pipeline, component: ./loop.yml}\n",
        ])
        let error = try #require(fixture.error())
        #expect(error.code == .cycle)
    }

    @Test func relativePathsAreResolvedAgainstTheCurrentDirectory() throws {
        let fixture = try Fixture(["p.yml": "type: pipeline\njobs: {a: {command: echo}}\n"])
        // A path relative to the current directory, without changing it (other tests run alongside).
        let depth = FileManager.default.currentDirectoryPath.split(separator: "/").count
        let relative = String(repeating: "../", count: depth) + fixture.path("p.yml").dropFirst()
        let plan = try PipelineLoader.load(file: relative)
        #expect(plan.sourceFile == fixture.path("p.yml"))
        #expect(plan.sourceFile.hasSuffix("/p.yml"))
        #expect(plan.name == "p")
    }
}
