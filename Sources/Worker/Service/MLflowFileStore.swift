import Foundation

/// Reads the metrics and params a step logged with MLflow into its attempt's local file store
/// (`MLFLOW_TRACKING_URI=file://ATTEMPT_DIR/mlruns`), as Conduit metrics.
///
/// The layout MLflow's file store writes: `EXPERIMENT/RUN/metrics/KEY` holds one line per logged
/// value, `TIMESTAMP VALUE STEP` (the last line wins); `EXPERIMENT/RUN/params/KEY` holds the value.
/// A key with `/` is a subdirectory. Numeric params become metrics named `params.KEY`; other params
/// are not numbers and are left out. When a step logs several runs, their values are merged (runs in
/// name order, later ones winning).
public enum MLflowFileStore {
    /// One file of the store: its path relative to `mlruns` and its content.
    public struct File: Sendable, Hashable {
        public var path: String
        public var contents: String

        public init(path: String, contents: String) {
            self.path = path
            self.contents = contents
        }
    }

    /// The metrics in `files` (pure: no I/O).
    public static func metrics(in files: [File]) -> [String: Double] {
        var result: [String: Double] = [:]
        for file in files.sorted(by: { $0.path < $1.path }) {
            let parts = file.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            // EXPERIMENT / RUN / metrics|params / KEY...
            guard parts.count >= 4, !parts[0].hasPrefix("."), !parts.contains("..") else { continue }
            let key = parts[3...].joined(separator: "/")
            switch parts[2] {
            case "metrics":
                if let value = lastMetricValue(file.contents) { result[key] = value }
            case "params":
                let text = file.contents.trimmingCharacters(in: .whitespacesAndNewlines)
                if let value = Double(text), value.isFinite { result["params." + key] = value }
            default:
                continue
            }
        }
        return result
    }

    /// The value of the last well-formed `TIMESTAMP VALUE [STEP]` line.
    static func lastMetricValue(_ contents: String) -> Double? {
        for line in contents.split(whereSeparator: \.isNewline).reversed() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, Int64(fields[0]) != nil, let value = Double(fields[1]), value.isFinite else { continue }
            return value
        }
        return nil
    }

    /// Reads every metric and param file under `root` (an `mlruns` directory); none when it is absent.
    /// Files larger than `maximumBytes` are skipped.
    public static func read(root: String, maximumBytes: Int = 16 << 20) -> [File] {
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(atPath: root) else { return [] }
        var files: [File] = []
        while let relative = enumerator.nextObject() as? String {
            let parts = relative.split(separator: "/")
            guard parts.count >= 4, parts[2] == "metrics" || parts[2] == "params" else { continue }
            let path = root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) <= maximumBytes,
                  let data = manager.contents(atPath: path) else { continue }
            files.append(File(path: relative, contents: String(decoding: data, as: UTF8.self)))
        }
        return files
    }
}
