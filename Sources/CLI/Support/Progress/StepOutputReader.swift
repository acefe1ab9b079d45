import Foundation
import Protocol

/// Reads the output of a run's steps as they run, attempt by attempt, from where it left off, and
/// hands it to the progress board. Each attempt's log is read to its end once the attempt is
/// over, so nothing a step wrote is missed, even a step that ran between two reads.
struct StepOutputReader {
    /// Where reading stands for one step.
    private struct Position {
        /// The attempt being read (1 for the first).
        var attempt: Int
        /// Bytes of its log already read.
        var offset: Int64 = 0
    }

    let run: String
    /// Where each step's reading stands: past an attempt read to its end, the next attempt.
    private var positions: [String: Position] = [:]

    init(run: String) {
        self.run = run
    }

    /// Reads what is new in the logs of the steps of `report`: running steps, and attempts that
    /// ended since the last read (read to their end). Reused steps ran elsewhere: nothing is read.
    /// A log that cannot be read now is tried again at the next read.
    mutating func read(_ report: RunReport, client: any CoordinatorClient, progress: ProgressPrinter) async {
        for step in report.steps where !step.reused && step.attempts > 0 {
            // The last attempt may still be queued, running, or waiting to be retried: it has ended
            // when its step has, or when the coordinator says so.
            let ended = step.status.isFinal
            var position = positions[step.name] ?? Position(attempt: 1)
            guard position.attempt <= step.attempts else { continue }
            while position.attempt <= step.attempts {
                let isLast = position.attempt == step.attempts
                guard let read = try? await client.logs(run: run, step: step.name, attempt: position.attempt, offset: position.offset) else { break }
                let (bytes, finished) = read
                if !bytes.isEmpty {
                    position.offset += Int64(bytes.count)
                    progress.handle(.output(step: step.name, attempt: position.attempt, bytes: bytes))
                }
                // An attempt that is not the last one has ended.
                guard !isLast || ended || finished else { break }
                if !bytes.isEmpty { continue }
                position = Position(attempt: position.attempt + 1)
            }
            positions[step.name] = position
        }
    }
}
