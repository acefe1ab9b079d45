/// A step's command, split into literal text and the places where values go.
///
/// Values never become shell syntax: a value made only of characters that are inert in `bash`
/// (letters, digits and `_ . / : = + , @ % -`) is written into the command as text, exactly as
/// Azure ML renders it; any other value is passed in an environment variable and the command
/// refers to it as `${CONDUIT_VALUE_N}`, so shell metacharacters in a value cannot run anything.
public struct CommandTemplate: Sendable, Codable, Hashable {
    /// One piece of the command.
    public enum Segment: Sendable, Codable, Hashable {
        /// Text written by the pipeline author.
        case text(String)
        /// A literal parameter value (already rendered as Azure renders it).
        case value(String)
        /// The local path of a data input, filled in by the worker.
        case inputPath(String)
        /// The local path of an output, filled in by the worker.
        case outputPath(String)
    }

    public var segments: [Segment]

    public init(segments: [Segment]) {
        self.segments = segments
    }

    /// The command text and the environment variables it refers to.
    public struct Rendered: Sendable, Hashable {
        public var command: String
        public var environment: [String: String]
    }

    /// Fills in data paths and values; a missing path renders as an empty value.
    public func render(inputPaths: [String: String], outputPaths: [String: String]) -> Rendered {
        var command = ""
        var environment: [String: String] = [:]
        func append(value: String) {
            if Self.isInert(value) {
                command += value
            } else {
                let variable = "CONDUIT_VALUE_\(environment.count)"
                environment[variable] = value
                command += "${\(variable)}"
            }
        }
        for segment in segments {
            switch segment {
            case .text(let text): command += text
            case .value(let value): append(value: value)
            case .inputPath(let name): append(value: inputPaths[name] ?? "")
            case .outputPath(let name): append(value: outputPaths[name] ?? "")
            }
        }
        return Rendered(command: command, environment: environment)
    }

    /// Whether `value` can be written into a `bash` command as is, with no effect beyond its text.
    public static func isInert(_ value: String) -> Bool {
        value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"),
                 UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "@"),
                 UInt8(ascii: "%"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}
