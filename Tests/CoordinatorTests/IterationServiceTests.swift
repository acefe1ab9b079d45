import Coordinator
import Foundation
import Protocol
import Spec
import TestKit
import Testing
import Transport

/// The coordinator's iteration requests (dry run, rerun, diff, step detail) with bad input:
/// precise refusals, and a dry run that records nothing.
@Suite(.timeLimit(.minutes(1)))
struct IterationServiceTests {
    func withCoordinator(_ body: (CoordinatorService) async throws -> Void) async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-coordinator")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        let service = try CoordinatorService(configuration: CoordinatorConfiguration(dataDirectory: directory), transport: network.coordinator)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await body(service)
            network.coordinator.close()
            group.cancelAll()
        }
    }

    let plan = PipelinePlan(
        name: "p", sourceFile: "/p.yml", settings: PipelineSettings(),
        steps: [
            PlannedStep(
                name: "make", commandTemplate: "make ${{outputs.o}}", command: CommandTemplate(segments: [.text("make ")]),
                outputs: [StepDataOutput(name: "o", type: .uriFolder)]
            ),
            PlannedStep(
                name: "use", commandTemplate: "use", command: CommandTemplate(segments: [.text("use")]),
                inputs: [StepDataInput(name: "i", type: .uriFolder, source: .stepOutput(step: "make", output: "o"))]
            ),
        ],
        outputs: []
    )

    func error(_ body: () async throws -> some Any) async -> CoordinatorError? {
        do {
            _ = try await body()
            return nil
        } catch let error as CoordinatorError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func aDryRunRecordsNothingAndSaysEveryStepIsNew() async throws {
        try await withCoordinator { service in
            let request = DryRunRequest(submission: SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []))
            let report = try await service.dryRun(request)
            #expect(report.steps.map(\.decision) == ["run", "depends"])
            #expect(report.steps[0].reasons == ["step make never ran before"])
            #expect(report.steps[1].upstream == ["make"])
            #expect(try await service.listRuns().isEmpty)
        }
    }

    @Test func aDryRunRefusesCodeItCannotSeeAndUnknownForcedSteps() async throws {
        try await withCoordinator { service in
            let digest = String(repeating: "ab", count: 32)
            let missing = await error {
                try await service.dryRun(DryRunRequest(submission: SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: ["make": digest], force: [])))
            }
            #expect(missing?.code == .invalidRequest)
            #expect(missing?.message == "code of step make: artifact \(digest) was not uploaded", "\(String(describing: missing))")
            let forged = await error {
                try await service.dryRun(DryRunRequest(
                    submission: SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: ["make": digest], force: []),
                    codeManifests: [digest: "not a manifest"]
                ))
            }
            #expect(forged?.code == .invalidRequest && forged?.message.contains("does not parse") == true, "\(String(describing: forged))")
            let forced = await error {
                try await service.dryRun(DryRunRequest(submission: SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: ["mak"])))
            }
            #expect(forced?.message == "--force mak: no such step; steps are make, use")
            let garbage = await error { try await service.dryRun(DryRunRequest(submission: SubmitRequest(planJSON: "{", localInputs: [:], code: [:], force: []))) }
            #expect(garbage?.code == .invalidRequest && garbage?.message.contains("does not decode") == true)
        }
    }

    @Test func unknownRunsAreRefusedWithWhereToLook() async throws {
        try await withCoordinator { service in
            let rerun = await error { try await service.rerun(runID: "run-x", request: RerunRequest(from: "make")) }
            #expect(rerun?.code == .notFound && rerun?.message == "no run run-x; `conduit runs` lists them")
            let diff = await error { try await service.diff(runA: "run-x", runB: "run-y") }
            #expect(diff?.code == .notFound && diff?.message.contains("no run run-x") == true)
            let detail = await error { try await service.stepDetail(runID: "run-x", step: "make") }
            #expect(detail?.code == .notFound)
        }
    }
}
