import Foundation

/// Writes a plan as the JSON its `Decodable` conformance reads, by hand: several times faster than
/// `JSONEncoder` for a thousand-step plan, and deterministic (maps sorted by key), so the same
/// plan always has the same bytes and the coordinator can recognise a plan it decoded before.
///
/// Keys and layout are those of the synthesized `Codable` conformances (nil optionals omitted)
/// and of `PlanCoding.swift`; a test decodes what this writes and compares it with the original.
public enum PlanJSON {
    public static func encode(_ plan: PipelinePlan) -> String {
        var writer = Writer()
        writer.object {
            $0.field("name", plan.name)
            $0.field("sourceFile", plan.sourceFile)
            $0.field("experimentName", plan.experimentName)
            $0.key("settings")
            $0.object {
                $0.field("defaultCompute", plan.settings.defaultCompute)
                $0.field("continueOnStepFailure", plan.settings.continueOnStepFailure)
                $0.field("forceRerun", plan.settings.forceRerun)
                $0.field("defaultDatastore", plan.settings.defaultDatastore)
            }
            $0.key("steps")
            $0.array(plan.steps) { writer, step in writer.step(step) }
            $0.key("outputs")
            $0.array(plan.outputs) { writer, binding in
                writer.object {
                    $0.field("name", binding.name)
                    $0.field("type", binding.type.rawValue)
                    $0.field("step", binding.step)
                    $0.field("output", binding.output)
                }
            }
            $0.key("warnings")
            $0.array(plan.warnings) { writer, warning in writer.string(warning) }
        }
        return writer.text
    }

    /// A sweep's selection as JSON (sorted keys): sweeps are few, so the synthesized form is fine.
    static func sweepJSON(_ sweep: SweepSelection) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(sweep)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private struct Writer {
        var text = ""
        /// Whether the next member of the current object or array needs a comma first.
        private var needsComma = false

        mutating func separate() {
            if needsComma { text += "," }
            needsComma = true
        }

        mutating func key(_ name: String) {
            separate()
            text += CanonicalJSON.quote(name) + ":"
            needsComma = false
        }

        mutating func string(_ value: String) {
            separate()
            text += CanonicalJSON.quote(value)
        }

        mutating func field(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            string(value)
        }

        mutating func field(_ name: String, _ value: Bool) {
            key(name)
            separate()
            text += value ? "true" : "false"
        }

        mutating func field(_ name: String, _ value: Int?) {
            guard let value else { return }
            key(name)
            separate()
            text += String(value)
        }

        /// A finite number, as Swift prints it (`2.0`, `1.5`), which JSON reads back exactly.
        mutating func field(_ name: String, _ value: Double) {
            key(name)
            separate()
            text += value.isFinite ? "\(value)" : "0"
        }

        mutating func field(_ name: String, _ value: [String: String]) {
            key(name)
            separate()
            text += CanonicalJSON.object(value)
        }

        /// JSON text written as is.
        mutating func raw(_ json: String) {
            separate()
            text += json
        }

        mutating func object(_ body: (inout Writer) -> Void) {
            separate()
            text += "{"
            needsComma = false
            body(&self)
            text += "}"
            needsComma = true
        }

        mutating func array<T>(_ values: [T], _ element: (inout Writer, T) -> Void) {
            separate()
            text += "["
            needsComma = false
            for value in values { element(&self, value) }
            text += "]"
            needsComma = true
        }

        mutating func step(_ step: PlannedStep) {
            object {
                $0.field("name", step.name)
                $0.field("displayName", step.displayName)
                $0.field("commandTemplate", step.commandTemplate)
                $0.key("command")
                $0.object {
                    $0.key("segments")
                    $0.array(step.command.segments) { writer, segment in
                        let (kind, value) = segment.parts
                        writer.array([kind, value]) { $0.string($1) }
                    }
                }
                $0.field("parameters", step.parameters)
                $0.key("inputs")
                $0.array(step.inputs) { writer, input in
                    writer.object {
                        $0.field("name", input.name)
                        $0.field("type", input.type.rawValue)
                        $0.field("mode", input.mode)
                        $0.key("source")
                        $0.array(input.source.parts) { $0.string($1) }
                    }
                }
                $0.key("outputs")
                $0.array(step.outputs) { writer, output in
                    writer.object {
                        $0.field("name", output.name)
                        $0.field("type", output.type.rawValue)
                        $0.field("path", output.path)
                        if output.isDefaultArtifacts { $0.field("isDefaultArtifacts", true) }
                        if let asset = output.asset {
                            $0.key("asset")
                            $0.object {
                                $0.field("name", asset.name)
                                $0.field("version", asset.version)
                            }
                        }
                    }
                }
                $0.field("codeDirectory", step.codeDirectory)
                $0.field("environment", step.environment)
                $0.field("compute", step.compute)
                $0.field("timeoutSeconds", step.timeoutSeconds)
                $0.field("isDeterministic", step.isDeterministic)
                $0.field("environmentVariables", step.environmentVariables)
                $0.field("component", step.component)
                if let retry = step.retry {
                    $0.key("retry")
                    $0.object {
                        $0.field("attempts", retry.attempts)
                        $0.field("backoffMilliseconds", Int(retry.backoffMilliseconds))
                        $0.field("factor", retry.factor)
                    }
                }
                if let setup = step.environmentSetup {
                    $0.key("environmentSetup")
                    $0.object {
                        $0.field("reference", setup.reference)
                        $0.field("kind", setup.kind.rawValue)
                        $0.field("python", setup.python)
                        $0.key("requirements")
                        $0.array(setup.requirements) { $0.string($1) }
                        $0.field("digest", setup.digest)
                    }
                }
                $0.field("trialOf", step.trialOf)
                if let sweep = step.sweep {
                    $0.key("sweep")
                    $0.raw(PlanJSON.sweepJSON(sweep))
                }
                if let resources = step.resources {
                    $0.key("resources")
                    $0.object {
                        $0.field("instanceType", resources.instanceType)
                        $0.field("cpuMillicores", resources.cpuMillicores)
                        $0.field("memoryBytes", resources.memoryBytes.map(Int.init))
                        $0.field("gpus", resources.gpus)
                        $0.field("gpuMemoryBytes", resources.gpuMemoryBytes.map(Int.init))
                    }
                }
            }
        }
    }
}
