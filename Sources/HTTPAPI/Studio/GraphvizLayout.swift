import Artifacts
import Foundation
import Protocol

/// Lays out a ``StudioGraphView`` with Graphviz's `dot` (Debian's `graphviz` package), off the actors,
/// and remembers each answer by the digest of the dot source, so that a run's page opens at once after
/// the first time (the same plan gives the same source).
///
/// `dot` runs as a child process with a deadline; a missing `dot`, a failure or a timeout is a
/// ``GraphvizLayoutError`` whose message says what to do.
public actor GraphvizLayout {
    /// The `dot` executable, found on `PATH` (nil when Graphviz is not installed).
    let executable: String?
    /// How long one layout may take.
    let timeout: Duration
    /// Layouts by the digest of their dot source.
    var cache: [String: GraphLayout] = [:]
    /// The most layouts kept.
    static let cacheLimit = 512

    /// A layout engine running `executable` (by default `dot` on `PATH`) for at most `timeout` per graph.
    public init(executable: String? = GraphvizLayout.findDot(), timeout: Duration = .seconds(20)) {
        self.executable = executable
        self.timeout = timeout
    }

    /// `dot` on `PATH`, or nil.
    public static func findDot() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/dot"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The positions of `view`'s nodes, from the cache or from `dot`.
    public func layout(of view: StudioGraphView) async throws(GraphvizLayoutError) -> GraphLayout {
        let source = view.dotSource
        let key = SHA256Hasher.digest(ofUTF8: source).hex
        if let cached = cache[key] { return cached }
        guard let executable else {
            throw GraphvizLayoutError(
                code: .notInstalled,
                message: "Graphviz is not installed on the coordinator's machine; install it (`apt-get install graphviz`) to see the graph laid out")
        }
        let plain = try await Self.run(executable: executable, source: source, timeout: timeout)
        let layout = try Self.parse(plain: plain, nodeCount: view.nodes.count)
        if cache.count >= Self.cacheLimit { cache.removeAll() }
        cache[key] = layout
        return layout
    }

    /// Runs `dot -Tplain` on `source` through temporary files, waiting for its exit without blocking
    /// a thread of the cooperative pool; kills it at `timeout`.
    static func run(executable: String, source: String, timeout: Duration) async throws(GraphvizLayoutError) -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conduit-dot-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try source.write(to: directory.appendingPathComponent("graph.dot"), atomically: false, encoding: .utf8)
        } catch {
            throw GraphvizLayoutError(code: .failed, message: "could not write the graph for dot: \(error)")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-Tplain", "-o", directory.appendingPathComponent("graph.plain").path, directory.appendingPathComponent("graph.dot").path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished in
            exited.continuation.yield(finished.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            throw GraphvizLayoutError(code: .failed, message: "could not start \(executable): \(error)")
        }
        let status: Int32? = await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await exited.stream.first { _ in true } }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let status else {
            process.terminate()
            throw GraphvizLayoutError(
                code: .timedOut,
                message: "dot did not lay out the graph in \(timeout); collapse groups to draw fewer nodes")
        }
        guard status == 0, let text = try? String(contentsOf: directory.appendingPathComponent("graph.plain"), encoding: .utf8) else {
            throw GraphvizLayoutError(code: .failed, message: "dot failed (exit status \(status))")
        }
        return text
    }

    /// Reads `dot -Tplain` output: `graph SCALE W H`, then `node nINDEX X Y …` in inches with y upwards;
    /// answers points with y downwards.
    static func parse(plain: String, nodeCount: Int) throws(GraphvizLayoutError) -> GraphLayout {
        var width = 0.0
        var height = 0.0
        var positions = [[Double]](repeating: [0, 0], count: nodeCount)
        var placed = 0
        for line in plain.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.first == "graph", fields.count >= 4 {
                width = (Double(fields[2]) ?? 0) * 72
                height = (Double(fields[3]) ?? 0) * 72
            } else if fields.first == "node", fields.count >= 4, fields[1].hasPrefix("n"),
                      let index = Int(fields[1].dropFirst()), index >= 0, index < nodeCount,
                      let x = Double(fields[2]), let y = Double(fields[3]) {
                positions[index] = [x * 72, height - y * 72]
                placed += 1
            }
        }
        guard placed == nodeCount else {
            throw GraphvizLayoutError(code: .failed, message: "dot placed \(placed) of \(nodeCount) nodes")
        }
        return GraphLayout(engine: "graphviz dot", width: width, height: height, positions: positions)
    }
}

/// Why a graph has no layout.
public struct GraphvizLayoutError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable {
        public let rawValue: String
        /// `dot` is not on `PATH`.
        public static let notInstalled = Code(rawValue: "notInstalled")
        /// `dot` ran past its deadline.
        public static let timedOut = Code(rawValue: "timedOut")
        /// `dot` could not be run or its answer read.
        public static let failed = Code(rawValue: "failed")
    }

    public var code: Code
    /// What happened and what to do.
    public var message: String
    public var description: String { message }
}
