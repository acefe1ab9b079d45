import Foundation
import Protocol
import Testing

/// Links a step leaves in its outputs: refused with a message naming the link and its target, as a
/// failed attempt (the step's fault, so not retried), never uploaded.
extension WorkerExecutionTests {
    func finished(_ harness: inout Harness) async -> AttemptFinished? {
        while let message = await harness.next() {
            if case .attemptFinished(let finished) = message.payload { return finished }
        }
        return nil
    }

    @Test func aLinkLeavingAnOutputFolderFailsTheAttempt() async throws {
        try await withWorker(slots: 1) { harness in
            let secret = harness.directory + "/secret.txt"
            try "secret".write(toFile: secret, atomically: false, encoding: .utf8)
            let command: [CommandPiece] = [
                .text("echo ok > "), .outputPath("out"), .text("/ok.txt && ln -s \(secret) "), .outputPath("out"), .text("/leak"),
            ]
            harness.network.coordinator.send(
                coordinator.make(.dispatch(Dispatch(
                    attemptID: "a", runID: "r", step: "a", command: command, outputs: [DispatchOutput(name: "out", kind: .folder)]))),
                to: harness.peer)
            let report = try #require(await finished(&harness))
            #expect(report.outcome == .failed)
            #expect(report.exitCode == 0)
            let message = report.message ?? ""
            #expect(message.contains("output out"), "\(message)")
            #expect(message.contains("'leak' -> '\(secret)'"), "\(message)")
            #expect(message.contains("points outside"), "\(message)")
            #expect(report.outputs.isEmpty)
        }
    }

    @Test func aFileOutputThatIsALinkFailsTheAttempt() async throws {
        try await withWorker(slots: 1) { harness in
            let secret = harness.directory + "/secret.txt"
            try "secret".write(toFile: secret, atomically: false, encoding: .utf8)
            harness.network.coordinator.send(
                coordinator.make(.dispatch(Dispatch(
                    attemptID: "b", runID: "r", step: "b", command: [.text("ln -s \(secret) "), .outputPath("model")],
                    outputs: [DispatchOutput(name: "model", kind: .file)]))),
                to: harness.peer)
            let report = try #require(await finished(&harness))
            #expect(report.outcome == .failed)
            #expect(report.message?.contains("symbolic link to '\(secret)'") == true, "\(report.message ?? "")")
        }
    }
}
