import Protocol

/// Finds the output `conduit download` names in a run report: a pipeline output (`model`), or a
/// step's output (`train.model`, and `node/child.model` for a step inside a pipeline component).
enum OutputReference {
    /// What was found: the name to copy it under (`DIR/NAME`) and its artifact digest.
    struct Found: Equatable {
        var name: String
        var artifact: String
    }

    /// The output `text` names in `report`.
    ///
    /// - Throws: `CLIError` (usage) naming what exists: the run's pipeline outputs, its steps, or
    ///   the step's outputs, or the step's status when it produced none.
    static func locate(_ text: String, in report: RunReport) throws -> Found {
        if let artifact = report.outputs[text] { return Found(name: text, artifact: artifact) }
        let steps = report.steps.map(\.name).joined(separator: ", ")
        guard let dot = text.lastIndex(of: ".") else {
            let names = report.outputs.keys.sorted().joined(separator: ", ")
            throw CLIError(
                "run \(report.run) has no output \(text)\(names.isEmpty ? " (it produced no pipeline output)" : "; its outputs are \(names)"); "
                    + "for a step's output give STEP.OUTPUT (its steps are \(steps))")
        }
        let stepName = String(text[..<dot])
        let outputName = String(text[text.index(after: dot)...])
        guard !stepName.isEmpty, !outputName.isEmpty else {
            throw CLIError("'\(text)' is not STEP.OUTPUT: expected a step name, a dot and an output name, as in train.model")
        }
        guard let step = report.steps.first(where: { $0.name == stepName }) else {
            throw CLIError("run \(report.run) has no step \(stepName) (from '\(text)'); its steps are \(steps)")
        }
        let outputs = step.outputs ?? [:]
        guard !outputs.isEmpty else {
            if step.status == .completed { throw CLIError("step \(stepName) of run \(report.run) has no outputs") }
            let why = step.reason.map { ": \($0)" } ?? ""
            throw CLIError("step \(stepName) of run \(report.run) produced no outputs: it is \(step.status.rawValue)\(why)")
        }
        guard let artifact = outputs[outputName] else {
            throw CLIError("step \(stepName) of run \(report.run) has no output \(outputName); its outputs are \(outputs.keys.sorted().joined(separator: ", "))")
        }
        return Found(name: outputName, artifact: artifact)
    }

    /// The MLflow store (artifacts and logged models) kept with step `stepName`'s succeeded
    /// attempt; for a reused step, the one of the run it reused (`sourceReport` fetches that run).
    static func mlflowStore(ofStep stepName: String, in report: RunReport, sourceReport: (String) async throws -> RunReport) async throws -> Found {
        guard let step = report.steps.first(where: { $0.name == stepName }) else {
            throw CLIError("run \(report.run) has no step \(stepName); its steps are \(report.steps.map(\.name).joined(separator: ", "))")
        }
        var history = step.attemptHistory ?? []
        var run = report.run
        if step.reused, let source = step.sourceRun {
            history = try await sourceReport(source).steps.first { $0.name == stepName }?.attemptHistory ?? []
            run = source
        }
        guard let store = history.last(where: { $0.mlflowStore != nil })?.mlflowStore else {
            throw CLIError(
                "step \(stepName) of run \(run) kept no MLflow store: it is \(step.status.rawValue), and a store is kept only when the step succeeded after logging with MLflow")
        }
        return Found(name: "mlruns", artifact: store)
    }
}
