/// Why a pipeline file was refused, and where.
///
/// `description` reads `FILE:LINE:COLUMN: FIELD: MESSAGE`, e.g.
/// `/abs/path/pipeline.yml:7:5: jobs.prep.inputs.test_fraction: 0.9 is above max 0.5`.
/// `file` is the file that holds the problem (a component file when the problem is there).
public struct SpecError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The kind of problem; an open set of constants.
    public var code: Code
    /// Absolute path of the file that holds the problem.
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column, when known.
    public var column: Int?
    /// Dotted path of the offending field (`jobs.prep.inputs.seed`), when there is one.
    public var field: String?
    /// What is wrong and what was expected.
    public var message: String

    /// Creates an error; `line`/`column` are 1-based.
    public init(
        _ code: Code, file: String, line: Int? = nil, column: Int? = nil, field: String? = nil, message: String
    ) {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    /// `FILE:LINE:COLUMN: FIELD: MESSAGE`, leaving out the parts that are unknown.
    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        if let field, !field.isEmpty {
            return "\(location): \(field): \(message)"
        }
        return "\(location): \(message)"
    }
}

extension SpecError {
    /// A kind of `SpecError`. New kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name of the code (`out_of_range`).
        public let rawValue: String

        /// Creates a code from its stable name.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public var description: String { rawValue }

        /// The file could not be read (missing, unreadable, not UTF-8).
        public static let unreadableFile = Code(rawValue: "unreadable_file")
        /// The YAML text is malformed.
        public static let syntax = Code(rawValue: "syntax")
        /// A mapping repeats a key.
        public static let duplicateKey = Code(rawValue: "duplicate_key")
        /// A mapping key is a sequence or mapping.
        public static let complexKey = Code(rawValue: "complex_key")
        /// Aliases expand beyond the allowed number of nodes.
        public static let aliasLimit = Code(rawValue: "alias_limit")
        /// The file is too large or too deeply nested.
        public static let tooLarge = Code(rawValue: "too_large")
        /// The document is not a pipeline job.
        public static let notAPipeline = Code(rawValue: "not_a_pipeline")
        /// A value has the wrong YAML shape or type.
        public static let invalidType = Code(rawValue: "invalid_type")
        /// A value is not one of the allowed choices.
        public static let invalidEnum = Code(rawValue: "invalid_enum")
        /// A number is outside the declared `min`/`max`.
        public static let outOfRange = Code(rawValue: "out_of_range")
        /// A component or inline job has no `command`.
        public static let missingCommand = Code(rawValue: "missing_command")
        /// A required field is missing.
        public static let missingField = Code(rawValue: "missing_field")
        /// A required input has no value.
        public static let missingInput = Code(rawValue: "missing_input")
        /// A field Azure ML refuses in this position.
        public static let unknownField = Code(rawValue: "unknown_field")
        /// An expression names an input or output that is not declared.
        public static let undeclaredReference = Code(rawValue: "undeclared_reference")
        /// An optional input is used in a command outside `$[[ ... ]]`.
        public static let optionalOutsideBrackets = Code(rawValue: "optional_outside_brackets")
        /// A binding names a step that does not exist.
        public static let unknownStep = Code(rawValue: "unknown_step")
        /// Steps depend on each other in a loop.
        public static let cycle = Code(rawValue: "cycle")
        /// A path climbs out of where it must stay (`..`).
        public static let pathEscapes = Code(rawValue: "path_escapes")
        /// A referenced file or directory does not exist.
        public static let fileNotFound = Code(rawValue: "file_not_found")
        /// A `--set` override is malformed or names nothing.
        public static let invalidOverride = Code(rawValue: "invalid_override")
        /// A valid Azure ML feature Conduit does not implement yet.
        public static let notSupported = Code(rawValue: "not_supported")
        /// A binding expression is malformed or used where it is not allowed.
        public static let invalidBinding = Code(rawValue: "invalid_binding")
        /// A step, input or output name is not one Conduit can use in a path or a binding.
        public static let invalidName = Code(rawValue: "invalid_name")
        /// An `azureml:` reference names an asset, version or registry the registry does not hold.
        public static let unknownAsset = Code(rawValue: "unknown_asset")
        /// A command whose quoting Conduit cannot follow, or a value where it cannot be passed safely
        /// (see `CommandTemplate`).
        public static let commandQuoting = Code(rawValue: "command_quoting")
        /// The file is an Azure ML schedule (`trigger:`), not a job: schedules are not supported yet.
        public static let scheduleFile = Code(rawValue: "schedule_file")
    }
}
