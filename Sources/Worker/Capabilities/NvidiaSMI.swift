import Foundation
import Protocol

/// The `nvidia-smi` command, the fallback when NVML cannot be loaded: its CSV query output is
/// parsed by a pure function, and the command runs under a timeout so a hung driver cannot hang
/// the worker's start.
enum NvidiaSMI {
    /// The query with the compute capability; drivers before 510 do not know `compute_cap`, and
    /// are asked again with `basicFields`.
    static let fullFields = "index,uuid,name,memory.total,memory.free,compute_cap"
    static let basicFields = "index,uuid,name,memory.total,memory.free"

    /// How long one `nvidia-smi` run may take.
    static let timeout: Duration = .seconds(10)

    /// The devices `nvidia-smi` lists; nil when it is not on `PATH`, fails, times out, or prints
    /// something that cannot be parsed.
    static func devices(environment: [String: String]) -> [GPUDevice]? {
        guard let executable = findExecutable("nvidia-smi", path: environment["PATH"] ?? "/usr/bin:/bin") else { return nil }
        if let output = run(executable, ["--query-gpu=\(fullFields)", "--format=csv,noheader,nounits"]),
           let devices = try? parse(csv: output, withComputeCapability: true) {
            return devices
        }
        guard let output = run(executable, ["--query-gpu=\(basicFields)", "--format=csv,noheader,nounits"]) else { return nil }
        return try? parse(csv: output, withComputeCapability: false)
    }

    /// Why a line of `nvidia-smi` output was not understood.
    struct ParseError: Error, Hashable, CustomStringConvertible {
        var line: String
        var reason: String
        var description: String { "cannot read nvidia-smi line '\(line)': \(reason)" }
    }

    /// Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.free[,compute_cap]
    /// --format=csv,noheader,nounits` output: one device per line, memory in MiB.
    ///
    /// Blank lines are skipped (no output means no devices). Fields are trimmed. A field the
    /// driver cannot report (`[N/A]`, `[Not Supported]`, `N/A`, empty) becomes 0 for memory and
    /// an empty compute capability; a line without a numeric index, or with the wrong number of
    /// fields, is an error. Devices come back in index order.
    static func parse(csv: String, withComputeCapability: Bool) throws -> [GPUDevice] {
        let expected = withComputeCapability ? 6 : 5
        var devices: [GPUDevice] = []
        for rawLine in csv.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == expected else {
                throw ParseError(line: line, reason: "expected \(expected) fields, found \(fields.count)")
            }
            guard let index = Int(fields[0]), index >= 0 else {
                throw ParseError(line: line, reason: "the index '\(fields[0])' is not a number")
            }
            let capability = withComputeCapability ? known(fields[5]) ?? "" : ""
            devices.append(GPUDevice(
                index: index, uuid: known(fields[1]) ?? "", name: known(fields[2]) ?? "",
                memoryBytes: mebibytes(fields[3]), freeMemoryBytes: mebibytes(fields[4]),
                computeCapability: capability
            ))
        }
        return devices.sorted { $0.index < $1.index }
    }

    /// The field, or nil when the driver could not report it.
    private static func known(_ field: String) -> String? {
        if field.isEmpty || field.hasPrefix("[") || field == "N/A" { return nil }
        return field
    }

    private static func mebibytes(_ field: String) -> Int64 {
        guard let field = known(field), let value = Double(field), value >= 0 else { return 0 }
        return Int64(value * 1024 * 1024)
    }

    /// The first executable `name` in the colon-separated `path`.
    static func findExecutable(_ name: String, path: String) -> String? {
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `executable` and returns its standard output when it exits 0 within `timeout`; kills
    /// it (SIGKILL) and returns nil when it does not, or fails to start or exits non-zero. Blocks the calling thread.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = timeout) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do { try process.run() } catch { return nil }
        // Read while it runs, so a large output cannot fill the pipe and stall it.
        let reader = OutputCollector(output.fileHandleForReading)
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        if exited.wait(timeout: .now() + seconds) == .timedOut {
            // Not waited for: a process stuck in the driver may not die at once, and the worker
            // must start regardless.
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        let bytes = reader.finish()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads a pipe to its end on its own thread.
///
/// `@unchecked Sendable`: `bytes` is written only by the reading thread, and read only after
/// `finish` has waited for that thread to signal `done`.
private final class OutputCollector: @unchecked Sendable {
    private var bytes = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            bytes = handle.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    /// Waits for the end of the output (the writer exited and closed the pipe).
    func finish() -> Data {
        done.wait()
        return bytes
    }
}
