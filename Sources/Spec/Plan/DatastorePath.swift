import Foundation

/// A datastore location, `azureml://datastores/NAME/paths/PATH`, as written in a data input's or
/// an output's `path:`.
///
/// The coordinator maps each datastore name to a directory. Output paths may use the server
/// expressions Azure ML fills when the step runs: `${{name}}` (the step's job name),
/// `${{output_name}}` and `${{default_datastore}}` (in the name or the path). Pure: parsing and
/// substitution only.
public struct DatastorePath: Sendable, Hashable {
    /// The datastore name as written (possibly `${{default_datastore}}`).
    public var datastore: String
    /// The path inside the datastore as written, without leading or trailing `/`.
    public var path: String

    /// Why a datastore path cannot be used.
    public struct Failure: Error, Sendable, Hashable {
        public var message: String
    }

    static let prefix = "azureml://datastores/"
    /// The expressions an output path may use.
    public static let expressions = ["name", "output_name", "default_datastore"]

    /// Whether `text` is written as a datastore URI (whatever its validity).
    public static func isDatastoreURI(_ text: String) -> Bool {
        text.lowercased().hasPrefix(prefix)
    }

    /// Parses `text`, checking its shape and that it uses no other expression than `expressions`.
    public init(parsing text: String) throws(Failure) {
        guard Self.isDatastoreURI(text) else {
            throw Failure(message: "'\(text)' is not a datastore path; expected azureml://datastores/NAME/paths/PATH")
        }
        let rest = text.dropFirst(Self.prefix.count)
        guard let marker = rest.range(of: "/paths/") ?? (rest.hasSuffix("/paths") ? rest.range(of: "/paths", options: .backwards) : nil) else {
            throw Failure(message: "'\(text)' names no path; expected azureml://datastores/NAME/paths/PATH")
        }
        let name = String(rest[..<marker.lowerBound])
        let path = String(rest[marker.upperBound...]).trimmingSlashes()
        guard !name.isEmpty, !name.contains("/") else {
            throw Failure(message: "'\(text)' has no datastore name; expected azureml://datastores/NAME/paths/PATH")
        }
        guard !path.isEmpty else {
            throw Failure(message: "'\(text)' names the whole datastore; give a path under it (azureml://datastores/\(name)/paths/PATH)")
        }
        for part in [name, path] {
            for expression in Self.expressionNames(in: part) where !Self.expressions.contains(expression) {
                throw Failure(
                    message: "'${{\(expression)}}' cannot be used in a datastore path; use ${{name}}, ${{output_name}} or ${{default_datastore}}"
                )
            }
        }
        self.datastore = name
        self.path = path
    }

    /// Whether the path uses any expression.
    public var hasExpressions: Bool {
        !Self.expressionNames(in: datastore).isEmpty || !Self.expressionNames(in: path).isEmpty
    }

    /// The datastore name and path with the expressions filled in.
    ///
    /// - Throws: `Failure` when the result would climb out of the datastore (`..`), or is empty.
    public func resolved(jobName: String, outputName: String, defaultDatastore: String) throws(Failure) -> (datastore: String, path: String) {
        let values = ["name": jobName, "output_name": outputName, "default_datastore": defaultDatastore]
        let name = Self.substitute(datastore, values)
        let path = Self.substitute(path, values).trimmingSlashes()
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !name.isEmpty, !name.contains("/") else {
            throw Failure(message: "the datastore name '\(name)' is not valid")
        }
        guard !segments.isEmpty, !segments.contains(where: { $0 == ".." || $0 == "." }), !path.contains("\0") else {
            throw Failure(message: "the path '\(path)' must be a relative path inside datastore \(name), without '.' or '..'")
        }
        return (name, segments.joined(separator: "/"))
    }

    /// Names inside `${{ ... }}` in `text`, whitespace trimmed.
    static func expressionNames(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "${{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                names.append("\(rest[open.upperBound...]) (unclosed)")
                break
            }
            names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return names
    }

    static func substitute(_ text: String, _ values: [String: String]) -> String {
        var result = ""
        var rest = text[...]
        while let open = rest.range(of: "${{"), let close = rest[open.upperBound...].range(of: "}}") {
            result += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            result += values[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return result + rest
    }
}

extension String {
    fileprivate func trimmingSlashes() -> String {
        var text = self[...]
        while text.hasPrefix("/") { text = text.dropFirst() }
        while text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }
}
