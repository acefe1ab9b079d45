import ArgumentParser
import Foundation
import Protocol

/// `conduit lineage RUN STEP.OUTPUT` or `conduit lineage NAME@VERSION`.
struct LineageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Show where an output or a registered data asset came from, and which runs read it.",
        discussion: """
            conduit lineage RUN STEP.OUTPUT (nested steps as node/child.OUTPUT), conduit lineage RUN OUTPUT \
            for a pipeline output, or conduit lineage NAME@latest / NAME:VERSION for a data asset a run \
            registered (an output with name:).

            Up: the step that produced it (its command, code digest, environment and parameters) and, \
            for each input, where the data came from: another step's output (followed up in turn), a \
            registered data asset (followed into the run that produced it), or data uploaded at \
            submission. Down: every step, in any run, whose input had the same content. Contents are \
            compared by digest, so a copy registered under another name counts too.
            """
    )

    @Argument(help: ArgumentHelp("A run id, or a registered data asset: NAME@latest, NAME:VERSION or azureml:NAME:VERSION.", valueName: "RUN|ASSET"))
    var first: String

    @Argument(help: ArgumentHelp("With a run: STEP.OUTPUT, node/child.OUTPUT, or a pipeline output's name.", valueName: "STEP.OUTPUT"))
    var output: String?

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withCLIErrors {
            let subject = try Self.subject(first, output)
            let report = try await client.client().lineage(of: subject)
            if json {
                printJSON(report)
            } else {
                LineagePrinter.lines(of: report).forEach { print($0) }
            }
            return ExitStatus.success
        }
    }

    /// What the arguments name.
    static func subject(_ first: String, _ output: String?) throws -> LineageSubject {
        guard let output else {
            // A data asset a run registered: NAME (the latest), NAME@latest, NAME:VERSION, azureml:...
            let reference = try RegistryOutput.parsed(first, kind: .data)
            switch reference.selector {
            case .label(let label): return .asset(name: reference.name, selector: label)
            case .version(let version): return .asset(name: reference.name, selector: version)
            }
        }
        guard let dot = output.lastIndex(of: ".") else {
            return .output(run: first, step: "", output: output)
        }
        let step = String(output[..<dot])
        let name = String(output[output.index(after: dot)...])
        guard !step.isEmpty, !name.isEmpty else {
            throw CLIError("'\(output)' is not STEP.OUTPUT: expected a step name, a dot and an output name, as in train.model")
        }
        return .output(run: first, step: step, output: name)
    }
}

/// The text `conduit lineage` prints.
enum LineagePrinter {
    static func lines(of report: LineageReport) -> [String] {
        let subject = report.subject
        var lines: [String] = []
        let named = subject.assets.isEmpty ? "" : subject.assets.joined(separator: ", ") + " = "
        lines.append("\(named)output \(subject.output) of step \(subject.step) in run \(subject.runID) (\(subject.type ?? "data"), content \(short(subject.digest)))")
        lines.append("")
        lines.append("Up (where it came from):")
        for step in report.upstream {
            var about = [step.pipeline, step.status]
            if let source = step.reusedFrom { about.append("reused from run \(source)") }
            lines.append("  \(step.step) in run \(step.runID) (\(about.joined(separator: ", ")))")
            lines.append("    command: \(step.command)")
            var ran = ["environment: \(step.environment.isEmpty ? "the worker's" : step.environment)"]
            if let code = step.code { ran.insert("code: \(short(code))", at: 0) }
            lines.append("    " + ran.joined(separator: "   "))
            if !step.parameters.isEmpty {
                lines.append("    parameters: " + step.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            for input in step.inputs {
                lines.append("    input \(input.name) ← \(origin(of: input))")
            }
        }
        if report.upstream.isEmpty { lines.append("  (the producing run is no longer kept)") }
        lines.append("")
        lines.append("Down (steps that read this content):")
        for use in report.downstream {
            let how = use.asset.map { ", as \($0)" } ?? ""
            lines.append("  \(use.step) in run \(use.runID) (\(use.pipeline), \(use.status)): input \(use.input)\(how)")
        }
        if report.downstream.isEmpty { lines.append("  none yet") }
        if report.truncated { lines.append("(cut at 500 steps each way; --json has the same limit)") }
        return lines
    }

    static func origin(of input: LineageInput) -> String {
        let content = input.digest.map { " (content \(short($0)))" } ?? ""
        switch input.origin {
        case .stepOutput:
            return "\(input.fromStep ?? "?").\(input.fromOutput ?? "?") in run \(input.fromRun ?? "?")\(content)"
        case .asset:
            let producer = input.fromStep.map { ", output \(input.fromOutput ?? "?") of \($0) in run \(input.fromRun ?? "?")" } ?? ""
            return "\(input.asset ?? "a registered data asset")\(producer)\(content)"
        case .pipelineInput:
            return "data uploaded at submission: \(input.path ?? "?")\(content)"
        case .uri:
            return "the URI \(input.path ?? "?") (passed as text)"
        }
    }

    static func short(_ digest: String) -> String { String(digest.prefix(12)) }
}
