@testable import Coordinator
import Dispatch
import Foundation
import Protocol
import Spec
import Store
import TestKit
import Testing
import Transport

/// The daily backup is written off the coordinator's actor: heartbeats, reports and dispatching
/// go on while it is copied, and the copy is a consistent database.
@Suite(.timeLimit(.minutes(1)))
struct ConcurrentBackupTests {
    /// A one-step plan whose command names it (so that no run is a cache hit of another).
    static func plan(_ name: String) -> PipelinePlan {
        PipelinePlan(name: name, sourceFile: "/p.yml", settings: PipelineSettings(), steps: [
            PlannedStep(name: "a", commandTemplate: "echo \(name)", command: CommandTemplate(segments: [.text("echo \(name)")])),
        ], outputs: [])
    }

    static func submit(_ plan: PipelinePlan, to service: CoordinatorService) async throws -> String {
        try await service.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
    }

    @Test func theCoordinatorSubmitsAndDispatchesWhileABackupIsBeingCopied() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-backup-live")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let network = InMemoryNetwork()
        try await withStillCoordinator(directory: directory, network: network, clock: ManualClock()) { service in
            let worker = DiskTestWorker(network.connectWorker(identity: "w"))
            worker.hello()
            #expect(try await worker.inbox.first(.code(.welcome)) != nil)
            // A run that completes before the backup.
            let before = try await Self.submit(Self.plan("before"), to: service)
            guard case .dispatch(let first)? = try await worker.inbox.first(.code(.dispatch))?.payload else {
                Issue.record("the first run must be dispatched")
                return
            }
            worker.send(.attemptFinished(AttemptFinished(attemptID: first.attemptID, outcome: .succeeded, startedAt: 1, endedAt: 2)))
            #expect(try await worker.inbox.first(.acknowledged(attemptID: first.attemptID, accepted: true)) != nil)

            // The backup is held just before its copy starts, on the thread that copies.
            let (started, startedContinuation) = AsyncStream<Void>.makeStream()
            let release = DispatchSemaphore(value: 0)
            async let backup = service.backUpConcurrently(why: "test", beforeCopy: {
                startedContinuation.yield()
                release.wait()
            })
            var starts = started.makeAsyncIterator()
            _ = await starts.next()

            // Meanwhile the actor records a new run and dispatches it, within a deadline.
            let answered = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    guard (try? await Self.submit(Self.plan("during"), to: service)) != nil else { return false }
                    return (try? await worker.inbox.count(.code(.dispatch), atLeast: 2, within: .seconds(10))) == 2
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(10))
                    return false
                }
                let first = await group.next() ?? false
                release.signal()  // whatever happened: a backup on the actor would wait for it
                group.cancelAll()
                return first
            }
            #expect(answered, "the coordinator must record and dispatch a run while a backup is copied")

            let path = try #require(await backup)
            #expect(FileManager.default.fileExists(atPath: path) && !path.hasSuffix(".partial"))
            #expect(ConduitStore.quickCheck(path: path) == nil, "the backup passes quick_check")
            // Opened as a database of its own (a copy: opening migrates), it holds the finished run.
            let copy = directory + "/copy.sqlite"
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            let restored = try ConduitStore(path: copy)
            #expect(try restored.run(id: before)?.status == .completed)
            #expect(try restored.attempt(id: first.attemptID)?.status == AttemptOutcome.succeeded.rawValue)
            worker.inbox.stop()
        }
    }

    @Test func theDailyBackupIsTakenOnceADayHasPassed() async throws {
        let directory = try ProcessHarness.temporaryDirectory("conduit-backup-daily")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = ManualClock()
        try await withStillCoordinator(directory: directory, network: InMemoryNetwork(), clock: clock) { service in
            let backups = DatabaseBackups(dataDirectory: directory)
            await service.backUpIfDue()
            #expect(backups.list().isEmpty, "a new data directory's first backup is due a day after it started")
            clock.advance(by: DatabaseBackups.interval)
            await service.backUpIfDue()
            let taken = backups.list()
            #expect(taken.map(\.takenAt) == [clock.milliseconds])
            #expect(taken.first.map { ConduitStore.quickCheck(path: $0.path) == nil } == true)
            await service.backUpIfDue()
            #expect(backups.list().count == 1, "the next one is due a day later")
        }
    }
}
