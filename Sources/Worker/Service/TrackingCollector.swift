import Foundation
import Protocol

/// Reads what a running step tracks, a little at a time: lines appended to `$CONDUIT_METRICS_FILE`
/// and what MLflow writes into the attempt's file store (`mlruns`: metric histories, params, tags).
/// Each `poll` returns only what is new since the last one, so the worker can send it while the
/// step runs (about once a second) and once more when it ends.
///
/// Only whole lines are taken; a line still being written is read at the next poll. A line longer
/// than `maximumLineBytes` is skipped, and at most `maximumReadBytes` of each file are read per poll
/// (the rest at the next one), so a step that logs millions of values costs bounded memory.
public struct TrackingCollector: Sendable {
    let metricsFile: String
    let mlruns: String
    var maximumLineBytes = 1 << 20
    var maximumReadBytes = 4 << 20

    /// Where reading stopped in each file, and the bytes of a line not yet complete.
    private var offsets: [String: UInt64] = [:]
    private var partial: [String: [UInt8]] = [:]
    /// Files in the middle of a line longer than `maximumLineBytes`: skipped up to its end.
    private var skipping: Set<String> = []
    /// Set by a poll that stopped at `maximumReadBytes` in some file: that file has more, and the
    /// next poll goes on from there (a final poll is repeated until this is false).
    public private(set) var more = false
    /// Files whose contents are one value (params, tags): their size and change time when read.
    private var stamps: [String: FileStamp] = [:]
    /// The number of the next point within the attempt.
    private(set) var nextPoint = 0
    /// For `$CONDUIT_METRICS_FILE` values without a `step`: how many of each name came before.
    private var counts: [String: Int64] = [:]
    /// MLflow metric lines already taken (hashes), the first `rememberedLines` of them.
    private var seen: Set<Int> = []
    static let rememberedLines = 1_000_000
    /// Each metric's latest value as MLflow ranks them: the highest step, then the latest time.
    private var latest: [String: MetricPoint] = [:]

    private struct FileStamp: Equatable {
        var size: Int64
        var changed: Int
        var changedNanoseconds: Int
    }

    public init(metricsFile: String, mlruns: String) {
        self.metricsFile = metricsFile
        self.mlruns = mlruns
    }

    /// The latest value of each metric (and numeric param, as `params.KEY`) a step that has ended
    /// tracked in `metricsFile` and `mlruns`.
    public static func lastValues(metricsFile: String, mlruns: String) -> [String: Double] {
        var collector = TrackingCollector(metricsFile: metricsFile, mlruns: mlruns)
        var values: [String: Double] = [:]
        repeat {
            if let metrics = collector.poll(attemptID: "", now: 0, final: true) { values.merge(metrics.values) { _, new in new } }
        } while collector.more
        return values
    }

    /// What is new since the last poll (at most `maximumReadBytes` of each file), or nil when
    /// nothing is. `final`: the step has ended, so a last line without its newline counts too; the
    /// caller polls again while `more` is set.
    public mutating func poll(attemptID: String, now: Int64, final: Bool = false) -> Metrics? {
        var points: [MetricPoint] = []
        var params: [TrackedValue] = []
        var tags: [TrackedValue] = []
        more = false
        readMetricsFile(now: now, final: final, into: &points)
        readMLflow(final: final, points: &points, params: &params, tags: &tags)
        guard !points.isEmpty || !params.isEmpty || !tags.isEmpty else { return nil }
        var values: [String: Double] = [:]
        for point in points {
            if let current = latest[point.key], (current.step, current.timestamp) > (point.step, point.timestamp) { continue }
            latest[point.key] = point
        }
        for key in Set(points.map(\.key)) { values[key] = latest[key]?.value }
        // Numeric params are also shown as metrics `params.KEY` (compared by `conduit diff`).
        for param in params {
            if let number = Double(param.value.trimmingCharacters(in: .whitespacesAndNewlines)), number.isFinite {
                values["params." + param.key] = number
            }
        }
        let metrics = Metrics(attemptID: attemptID, values: values, firstPoint: nextPoint, points: points, params: params, tags: tags)
        nextPoint += points.count
        return metrics
    }

    // MARK: $CONDUIT_METRICS_FILE

    private mutating func readMetricsFile(now: Int64, final: Bool, into points: inout [MetricPoint]) {
        struct Line: Decodable {
            var name: String
            var value: Double
            var step: Int64?
        }
        let decoder = JSONDecoder()
        for line in newLines(of: metricsFile, final: final) {
            guard let parsed = try? decoder.decode(Line.self, from: Data(line)), parsed.value.isFinite, !parsed.name.isEmpty else { continue }
            let step = parsed.step ?? counts[parsed.name, default: 0]
            counts[parsed.name] = max(counts[parsed.name, default: 0], step) + 1
            points.append(MetricPoint(key: parsed.name, value: parsed.value, step: step, timestamp: now))
        }
    }

    // MARK: MLflow's file store

    /// `mlruns/EXPERIMENT/RUN/{metrics,params,tags}/KEY` (a key with `/` is a subdirectory). Run
    /// artifacts and MLflow 3's logged models (`EXPERIMENT/models/...`) are not read here.
    private mutating func readMLflow(final: Bool, points: inout [MetricPoint], params: inout [TrackedValue], tags: inout [TrackedValue]) {
        let manager = FileManager.default
        guard let experiments = try? manager.contentsOfDirectory(atPath: mlruns) else { return }
        for experiment in experiments.sorted() where !experiment.hasPrefix(".") {
            guard let runs = try? manager.contentsOfDirectory(atPath: mlruns + "/" + experiment) else { continue }
            for run in runs.sorted() where run != "models" && !run.hasPrefix(".") {
                let runDirectory = mlruns + "/" + experiment + "/" + run
                for (kind, key, path) in Self.keyFiles(under: runDirectory) {
                    switch kind {
                    case "metrics":
                        for line in newLines(of: path, final: final) {
                            guard let point = MLflowFileStore.point(fromLine: line, key: key, run: run) else { continue }
                            // MLflow 3 writes a run's metric lines again when it links them to a
                            // logged model: a repeated line is one value (remembered up to a bound).
                            if seen.count < Self.rememberedLines {
                                guard seen.insert(point.hashValue).inserted else { continue }
                            }
                            points.append(point)
                        }
                    default:
                        guard let text = changedContents(of: path) else { continue }
                        let value = TrackedValue(key: key, value: text, run: run)
                        if kind == "params" { params.append(value) } else { tags.append(value) }
                    }
                }
            }
        }
    }

    /// The regular files under `RUN/metrics`, `RUN/params` and `RUN/tags`, with their keys.
    private static func keyFiles(under runDirectory: String) -> [(kind: String, key: String, path: String)] {
        var files: [(String, String, String)] = []
        for kind in ["metrics", "params", "tags"] {
            let root = runDirectory + "/" + kind
            guard let enumerator = FileManager.default.enumerator(atPath: root) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let path = root + "/" + relative
                var info = stat()
                guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                files.append((kind, relative, path))
            }
        }
        return files.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    // MARK: Reading

    /// Whole lines appended to `path` since the last read (and, when `final`, a last line without
    /// its newline).
    private mutating func newLines(of path: String, final: Bool) -> [[UInt8]] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let offset = offsets[path, default: 0]
        guard (try? handle.seek(toOffset: offset)) != nil else { return [] }
        // At the end of the file the read gives nil or nothing.
        let data = (try? handle.read(upToCount: maximumReadBytes)) ?? Data()
        guard !data.isEmpty || (final && partial[path] != nil) else { return [] }
        offsets[path] = offset + UInt64(data.count)
        let hasMore = data.count == maximumReadBytes
        if hasMore { more = true }
        var bytes = partial.removeValue(forKey: path) ?? []
        bytes.append(contentsOf: data)
        let newline = UInt8(ascii: "\n")
        var start = 0
        if skipping.contains(path) {
            // The rest of an over-long line.
            guard let end = bytes.firstIndex(of: newline) else { return [] }
            skipping.remove(path)
            start = end + 1
        }
        var lines: [[UInt8]] = []
        while let end = bytes[start...].firstIndex(of: newline) {
            if end - start <= maximumLineBytes { lines.append(Array(bytes[start..<end])) }
            start = end + 1
        }
        let rest = Array(bytes[start...])
        if rest.count > maximumLineBytes {
            skipping.insert(path)
        } else if final && !hasMore {
            if !rest.isEmpty { lines.append(rest) }
        } else {
            partial[path] = rest
        }
        return lines
    }

    /// The contents of a one-value file when it is new or changed since it was last read (at most
    /// 64 KiB; MLflow limits params to 6,000 characters and tags to 8,000).
    private mutating func changedContents(of path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_size <= 64 << 10 else { return nil }
        let stamp = FileStamp(size: Int64(info.st_size), changed: info.st_mtim.tv_sec, changedNanoseconds: info.st_mtim.tv_nsec)
        guard stamps[path] != stamp, let data = FileManager.default.contents(atPath: path) else { return nil }
        stamps[path] = stamp
        return String(decoding: data, as: UTF8.self)
    }
}
