/// Compact JSON forms for the plan's enums with payloads.
///
/// A plan travels as JSON from the CLI to the coordinator and is stored with each run; the
/// synthesized form of these enums (`{"text": {"_0": "..."}}`) is several times slower to read
/// than a two-element array (`["text", "..."]`), and a thousand-step plan has tens of thousands
/// of segments.
extension CommandTemplate.Segment {
    /// The wire form: kind tag and value (also written by `PlanJSON`).
    var parts: (String, String) {
        switch self {
        case .text(let value): ("text", value)
        case .value(let value): ("value", value)
        case .inputPath(let name): ("input", name)
        case .outputPath(let name): ("output", name)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        let (kind, value) = parts
        try container.encode(kind)
        try container.encode(value)
    }

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        let kind = try container.decode(String.self)
        let value = try container.decode(String.self)
        switch kind {
        case "text": self = .text(value)
        case "value": self = .value(value)
        case "input": self = .inputPath(value)
        case "output": self = .outputPath(value)
        default:
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown command segment kind \(kind)")
        }
    }
}

extension DataSource {
    /// The wire form: kind tag, then the values (also written by `PlanJSON`).
    var parts: [String] {
        switch self {
        case .stepOutput(let step, let output): ["step", step, output]
        case .localPath(let path): ["local", path]
        case .uri(let uri): ["uri", uri]
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for part in parts { try container.encode(part) }
    }

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        let kind = try container.decode(String.self)
        switch kind {
        case "step": self = .stepOutput(step: try container.decode(String.self), output: try container.decode(String.self))
        case "local": self = .localPath(try container.decode(String.self))
        case "uri": self = .uri(try container.decode(String.self))
        default:
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown data source kind \(kind)")
        }
    }
}
