import Foundation
import Spec

/// Everything a step's result depends on, in a canonical form whose SHA-256 is the cache key.
///
/// Stored in full with each execution so that a later miss can be explained field by field.
public struct CacheManifest: Codable, Hashable, Sendable {
    /// A data input: its type and content digest (or the URI when it is not an artifact; both for
    /// content read from a datastore, `azureml://datastores/NAME/paths/PATH`).
    public struct Input: Codable, Hashable, Sendable {
        public var type: String
        public var digest: String?
        public var uri: String?

        public init(type: String, digest: String? = nil, uri: String? = nil) {
            self.type = type
            self.digest = digest
            self.uri = uri
        }
    }

    /// The code snapshot: its digest and every file's digest by relative path.
    public struct Code: Codable, Hashable, Sendable {
        public var digest: String
        public var files: [String: String]

        public init(digest: String, files: [String: String]) {
            self.digest = digest
            self.files = files
        }
    }

    /// Format version; part of the key, so a format change never yields false hits.
    public var version: Int
    public var command: String
    public var parameters: [String: String]
    public var code: Code?
    public var environment: String
    public var inputs: [String: Input]
    /// Output name → type.
    public var outputs: [String: String]
    /// What the environment resolved to (requirements, interpreter), when the step has one: part of
    /// the key, so mapping a name to new requirements re-runs the step. Absent from the key text when
    /// it is the worker's own python3 (nothing built: `environment` says all there is), so such steps
    /// keep the keys they had before environments were resolved.
    public var environmentSetup: StepEnvironment?

    public init(
        command: String, parameters: [String: String], code: Code?, environment: String, inputs: [String: Input],
        outputs: [String: String], environmentSetup: StepEnvironment? = nil
    ) {
        self.environmentSetup = environmentSetup
        self.version = 1
        self.command = command
        self.parameters = parameters
        self.code = code
        self.environment = environment
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Sorted-key JSON: the same manifest always yields the same text (and so the same key).
    ///
    /// Written by hand rather than with `JSONEncoder`: the text defines the cache key, so its
    /// exact form is part of Conduit's format, and a run of a thousand steps builds a thousand
    /// of these. `decode(json:)` reads it back with `JSONDecoder`.
    public var canonicalJSON: String {
        var out = "{"
        var first = true
        func key(_ name: String) {
            if !first { out += "," }
            first = false
            Self.appendString(name, to: &out)
            out += ":"
        }
        if let code {
            key("code")
            out += "{\"digest\":"
            Self.appendString(code.digest, to: &out)
            out += ",\"files\":"
            Self.appendObject(code.files, to: &out)
            out += "}"
        }
        key("command")
        Self.appendString(command, to: &out)
        key("environment")
        Self.appendString(environment, to: &out)
        if let environmentSetup, environmentSetup.kind != .workerPython {
            key("environmentSetup")
            out += environmentSetup.canonicalJSON
        }
        key("inputs")
        out += "{"
        for (index, name) in Self.sortedKeys(inputs.keys).enumerated() {
            let input = inputs[name]!
            if index > 0 { out += "," }
            Self.appendString(name, to: &out)
            out += ":{"
            var fields: [(String, String)] = []
            if let digest = input.digest { fields.append(("digest", digest)) }
            fields.append(("type", input.type))
            if let uri = input.uri { fields.append(("uri", uri)) }
            for (position, (field, value)) in fields.enumerated() {
                if position > 0 { out += "," }
                Self.appendString(field, to: &out)
                out += ":"
                Self.appendString(value, to: &out)
            }
            out += "}"
        }
        out += "}"
        key("outputs")
        Self.appendObject(outputs, to: &out)
        key("parameters")
        Self.appendObject(parameters, to: &out)
        key("version")
        out += String(version)
        out += "}"
        return out
    }

    private static func appendObject(_ values: [String: String], to out: inout String) {
        out += CanonicalJSON.object(values)
    }

    private static func appendString(_ text: String, to out: inout String) {
        out += CanonicalJSON.quote(text)
    }

    /// Keys in byte order, as `CanonicalJSON` sorts them.
    private static func sortedKeys(_ keys: some Sequence<String>) -> [String] {
        keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Decodes a stored manifest.
    public static func decode(json: String) -> CacheManifest? {
        try? JSONDecoder().decode(CacheManifest.self, from: Data(json.utf8))
    }

    /// Human-readable differences from `earlier`, one per changed field, e.g.
    /// `parameter learning_rate: 0.1 → 0.01`, `code: src/evaluate.py changed`,
    /// `input raw_data: content changed`, `input raw: azureml://datastores/d/paths/x changed`.
    public func differences(from earlier: CacheManifest) -> [String] {
        var result: [String] = []
        if version != earlier.version { result.append("cache format: version \(earlier.version) → \(version)") }
        if command != earlier.command { result.append("command: the command text changed") }
        for name in Set(parameters.keys).union(earlier.parameters.keys).sorted() {
            switch (earlier.parameters[name], parameters[name]) {
            case let (old?, new?) where old != new: result.append("parameter \(name): \(old) → \(new)")
            case (nil, let new?): result.append("parameter \(name): added (\(new))")
            case (let old?, nil): result.append("parameter \(name): removed (was \(old))")
            default: break
            }
        }
        switch (earlier.code, code) {
        case let (old?, new?) where old.digest != new.digest:
            var changed = false
            for path in Set(old.files.keys).union(new.files.keys).sorted() {
                switch (old.files[path], new.files[path]) {
                case let (a?, b?) where a != b: result.append("code: \(path) changed"); changed = true
                case (nil, _?): result.append("code: \(path) added"); changed = true
                case (_?, nil): result.append("code: \(path) removed"); changed = true
                default: break
                }
            }
            if !changed { result.append("code: the snapshot changed") }
        case (nil, _?): result.append("code: a code folder was added")
        case (_?, nil): result.append("code: the code folder was removed")
        default: break
        }
        // A manifest read back has no setup for the worker's python3 (it is left out of the key text):
        // with the same definition, that is what a missing side stood for.
        var before = earlier.environmentSetup
        var after = environmentSetup
        if environment == earlier.environment {
            if before == nil, let after { before = StepEnvironment(reference: after.reference, kind: .workerPython) }
            if after == nil, let before { after = StepEnvironment(reference: before.reference, kind: .workerPython) }
        }
        let environmentChanges = StepEnvironment.differences(from: before, to: after)
        if !environmentChanges.isEmpty {
            result += environmentChanges
        } else if environment != earlier.environment {
            result.append("environment: the environment definition changed")
        }
        for name in Set(inputs.keys).union(earlier.inputs.keys).sorted() {
            switch (earlier.inputs[name], inputs[name]) {
            case let (old?, new?) where old != new:
                if old.type != new.type {
                    result.append("input \(name): type \(old.type) → \(new.type)")
                } else if let uri = new.uri, old.uri == uri, new.digest != nil {
                    // Read from a datastore: the same path, other bytes.
                    result.append("input \(name): \(uri) changed")
                } else if old.uri != new.uri {
                    result.append("input \(name): location changed")
                } else {
                    result.append("input \(name): content changed")
                }
            case (nil, _?): result.append("input \(name): added")
            case (_?, nil): result.append("input \(name): removed")
            default: break
            }
        }
        for name in Set(outputs.keys).union(earlier.outputs.keys).sorted() where earlier.outputs[name] != outputs[name] {
            switch (earlier.outputs[name], outputs[name]) {
            case let (old?, new?): result.append("output \(name): type \(old) → \(new)")
            case (nil, _?): result.append("output \(name): added")
            default: result.append("output \(name): removed")
            }
        }
        return result
    }
}
