import Foundation
import Protocol

/// What `conduit run` and `conduit submit --wait` show while they follow a run: a pure core that
/// takes what the follower learns (reports, step output, the time) and returns the text to write.
///
/// Every change of a step is a line of its own (`train  completed in 4.1s on local`), retries
/// included (`train  attempt 2 of 3 after exit 1`), and with `logs` each line a step prints,
/// prefixed with its name (`train | epoch 1`). On a terminal (`live`), the running steps are
/// also drawn below those lines, each with its elapsed time and last line of output, and redrawn
/// in place. Without `live` no control character is ever written.
struct ProgressBoard {
    /// How the board writes.
    struct Settings: Sendable, Hashable {
        /// Redraw the running steps in place with ANSI sequences (a terminal that understands them).
        var live: Bool
        /// Interleave the steps' output, each line prefixed with its step's name.
        var logs: Bool
        /// The terminal's width in columns (80 when unknown); a drawn line never reaches it.
        var width: Int
        /// Step name → `retry.attempts`, for the steps with a `retry:` block.
        var retryBudgets: [String: Int]

        init(live: Bool = false, logs: Bool = false, width: Int = 80, retryBudgets: [String: Int] = [:]) {
            self.live = live
            self.logs = logs
            self.width = width
            self.retryBudgets = retryBudgets
        }
    }

    /// What the follower learned.
    enum Event: Sendable {
        /// A report of the run (with or without the steps' detail) at `now` (milliseconds since 1970).
        case report(RunReport, now: Int64)
        /// Bytes a step's attempt `attempt` wrote, following those given before.
        case output(step: String, attempt: Int, bytes: [UInt8])
        /// A line from Conduit itself (`conduit: …`).
        case note(String)
        /// Text something else writes to standard error (a log line), written as it is, above the drawing.
        case external(String)
        /// Time passed: `now` in milliseconds since 1970, and the terminal's width now.
        case tick(now: Int64, width: Int)
        /// The run ended (or following it did): whatever is still held is written, the drawing cleared.
        case finished
    }

    /// What the follower must do.
    enum Action: Equatable, Sendable {
        /// Write this text to standard error.
        case write(String)
        /// Ask for the run's detailed report (`CoordinatorClient.report(run:)`) and give it back as
        /// a `.report` event: a retry needs the attempt history to say why.
        case fetchDetail
    }

    /// The output of one attempt of a step: the line it is writing, and its last whole line.
    private struct StepOutput {
        var attempt: Int
        var partial: [UInt8] = []
        var lastLine = ""
    }

    /// A line longer than this is shown as it is, without waiting for its end.
    static let longestHeldLine = 16 * 1024

    private(set) var settings: Settings
    /// The steps in the pipeline's order.
    private var order: [String] = []
    /// The width of the step names' column.
    private var nameColumns = 8
    /// What was last written about each step.
    private var shown: [String: StepReport] = [:]
    /// The last report of each step.
    private var latest: [String: StepReport] = [:]
    /// Retries seen in a report without detail: step → attempt numbers, until the detail says why.
    private var pendingRetries: [String: ClosedRange<Int>] = [:]
    /// The last attempt of each step that was said (the first is not).
    private var announced: [String: Int] = [:]
    /// When each running step's current attempt started (milliseconds since 1970).
    private var runningSince: [String: Int64] = [:]
    private var outputs: [String: StepOutput] = [:]
    /// The lines drawn below the permanent ones (live only).
    private var drawn: [String] = []
    private var now: Int64 = 0
    private var finished = false

    init(settings: Settings) {
        self.settings = settings
    }

    /// Takes one event; returns what to do, in order.
    mutating func on(_ event: Event) -> [Action] {
        guard !finished else { return [] }
        switch event {
        case .report(let report, let now):
            self.now = max(self.now, now)
            return onReport(report)
        case .output(let step, let attempt, let bytes):
            let text = take(bytes, step: step, attempt: attempt)
            return write(permanent: text)
        case .note(let text):
            return write(permanent: "conduit: \(text)\n")
        case .external(let text):
            return write(permanent: text.isEmpty || text.hasSuffix("\n") ? text : text + "\n")
        case .tick(let now, let width):
            self.now = max(self.now, now)
            settings.width = width > 0 ? width : 80
            return settings.live && block() != drawn ? write(permanent: "") : []
        case .finished:
            var text = ""
            for step in order where pendingRetries[step] != nil { text += retryLine(step: step, history: nil) + transition(of: step) }
            for step in order { text += flush(step: step) }
            finished = true
            return write(permanent: text)
        }
    }

    // MARK: Reports

    private mutating func onReport(_ report: RunReport) -> [Action] {
        if order.isEmpty {
            order = report.steps.map(\.name)
            nameColumns = max(8, order.map(\.count).max() ?? 0)
        }
        var text = ""
        var needDetail = false
        for step in report.steps {
            let before = latest[step.name]
            latest[step.name] = step
            if step.status == .running, before?.status != .running || (before?.attempts ?? 0) < step.attempts {
                runningSince[step.name] = now
            }
            if let current = step.attemptHistory?.last, current.number == step.attempts, !current.hasEnded {
                runningSince[step.name] = current.startedAt ?? current.dispatchedAt
            }
            if step.status != .running { runningSince[step.name] = nil }
            // Retries, those that happened before the first report included (a run followed late, a fast step).
            let said = announced[step.name] ?? 1
            if step.attempts > said {
                pendingRetries[step.name] = (pendingRetries[step.name]?.lowerBound ?? said + 1)...step.attempts
                announced[step.name] = step.attempts
            }
            if pendingRetries[step.name] != nil {
                guard let history = step.attemptHistory else {
                    needDetail = true
                    continue
                }
                text += retryLine(step: step.name, history: history)
            }
            // A step no connected worker can take says so once: it waits, it is not failed.
            if step.status == .queued, let reason = step.reason, reason.contains("no such worker"), shown[step.name]?.reason != reason {
                shown[step.name] = step
                text += "  " + ProgressText.padded(step.name, to: nameColumns) + "  " + reason + "\n"
                continue
            }
            text += transition(of: step.name)
        }
        var actions = write(permanent: text)
        if needDetail { actions.append(.fetchDetail) }
        return actions
    }

    /// `  train     attempt 2 of 3 after exit 1` for each pending retry of a step, and forgets them.
    private mutating func retryLine(step name: String, history: [AttemptReport]?) -> String {
        guard let numbers = pendingRetries.removeValue(forKey: name) else { return "" }
        // The new attempt starts over: its running line is written again.
        shown[name]?.status = .queued
        return numbers.map { number in
            let previous = history?.last { $0.number == number - 1 }
            let text = ProgressText.retry(number: number, budget: settings.retryBudgets[name], previous: previous)
            return "  " + ProgressText.padded(name, to: nameColumns) + "  " + text + "\n"
        }.joined()
    }

    /// The line for a step whose status changed since last written, or nothing.
    private mutating func transition(of name: String) -> String {
        guard let step = latest[name] else { return "" }
        let old = shown[name]
        guard old?.status != step.status || old?.reused != step.reused else { return "" }
        shown[name] = step
        if step.status == .waiting || step.status == .queued { return "" }
        var line = "  " + ProgressText.padded(name, to: nameColumns) + "  " + ProgressPrinter.describe(step)
        if let reason = step.reason, step.status == .failed || step.status == .timedOut || step.status == .skipped {
            line += "  (\(ProgressText.visible(reason)))"
        }
        return line + "\n"
    }

    // MARK: Output

    /// Adds a step's bytes; returns the whole lines to write (with `logs`).
    private mutating func take(_ bytes: [UInt8], step: String, attempt: Int) -> String {
        var text = ""
        if let held = outputs[step], held.attempt != attempt { text += flush(step: step) }
        var output = outputs[step] ?? StepOutput(attempt: attempt)
        output.attempt = attempt
        output.partial += bytes
        while let end = output.partial.firstIndex(of: UInt8(ascii: "\n")) {
            text += line(String(decoding: output.partial[..<end], as: UTF8.self), step: step, into: &output)
            output.partial.removeSubrange(...end)
        }
        if output.partial.count > Self.longestHeldLine {
            text += line(String(decoding: output.partial, as: UTF8.self), step: step, into: &output)
            output.partial = []
        }
        outputs[step] = output
        return text
    }

    /// Writes out the line a step left unfinished, and forgets its output.
    private mutating func flush(step: String) -> String {
        guard var output = outputs.removeValue(forKey: step), !output.partial.isEmpty else { return "" }
        return line(String(decoding: output.partial, as: UTF8.self), step: step, into: &output)
    }

    private func line(_ raw: String, step: String, into output: inout StepOutput) -> String {
        let visible = ProgressText.visible(raw)
        if !visible.allSatisfy(\.isWhitespace) { output.lastLine = visible }
        guard settings.logs else { return "" }
        return ProgressText.padded(step, to: nameColumns) + " | " + visible + "\n"
    }

    // MARK: Drawing

    /// The running steps, one line each: name, elapsed time, last line of output.
    private func block() -> [String] {
        guard settings.live else { return [] }
        return order.compactMap { name -> String? in
            guard latest[name]?.status == .running, let since = runningSince[name] else { return nil }
            var line = "  " + ProgressText.padded(name, to: nameColumns) + "  " + ProgressText.elapsed(milliseconds: now - since)
            if let output = outputs[name] {
                let partial = ProgressText.visible(String(decoding: output.partial, as: UTF8.self))
                let last = partial.allSatisfy(\.isWhitespace) ? output.lastLine : partial
                let trimmed = last.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { line += "  " + trimmed }
            }
            // One column short of the width: a line that fills it would wrap on some terminals.
            return ProgressText.truncated(line, to: settings.width - 1)
        }
    }

    /// Writes `permanent` above the drawing and draws it again (live), or writes it alone.
    private mutating func write(permanent: String) -> [Action] {
        guard settings.live else { return permanent.isEmpty ? [] : [.write(permanent)] }
        let lines = finished ? [] : block()
        guard !permanent.isEmpty || lines != drawn else { return [] }
        // Back to the first drawn line; each line written clears the old one; what is left below goes.
        var text = drawn.isEmpty ? "" : "\r\u{1B}[\(drawn.count)A"
        for line in permanent.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            text += "\u{1B}[2K" + line + "\n"
        }
        for line in lines { text += "\u{1B}[2K" + line + "\n" }
        text += "\u{1B}[J"
        drawn = lines
        return [.write(text)]
    }
}
