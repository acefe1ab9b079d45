import Artifacts
import Foundation

/// Real Python things for environment tests, made offline: wheels written with `zipfile`, virtual
/// environments made with `python3 -m venv`, and a digest of a directory tree.
enum PythonFixtures {
    /// Runs `arguments` through `/usr/bin/env` and returns its standard output, trimmed; throws
    /// when it exits non-zero (with its output).
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw FixtureError(description: "\(arguments.joined(separator: " ")) exited with status \(process.terminationStatus): \(text)")
        }
        return text
    }

    struct FixtureError: Error, CustomStringConvertible {
        var description: String
    }

    /// A pure-Python wheel of `name` `version` whose module `name` holds `VALUE = value`, written
    /// into `directory`; returns its path.
    static func wheel(_ name: String, version: String, value: String, in directory: String) throws -> String {
        let path = "\(directory)/\(name)-\(version)-py3-none-any.whl"
        let script = """
            import zipfile, sys
            name, version, value, path = sys.argv[1:5]
            info = f"{name}-{version}.dist-info"
            files = {
                f"{name}.py": f"VALUE = {value!r}\\n",
                f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
                f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: conduit-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
            }
            record = "".join(f"{n},,\\n" for n in files) + f"{info}/RECORD,,\\n"
            with zipfile.ZipFile(path, "w") as archive:
                for n, text in files.items():
                    archive.writestr(n, text)
                archive.writestr(f"{info}/RECORD", record)
            """
        try run(["python3", "-c", script, name, version, value, path])
        return path
    }

    /// A virtual environment at `path`, with pip, holding the wheels `wheels` (installed offline).
    static func virtualEnvironment(at path: String, wheels: [String]) throws {
        try run(["python3", "-m", "venv", path])
        if !wheels.isEmpty {
            try run([path + "/bin/python", "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check", "--quiet"] + wheels)
        }
    }

    /// A digest of the tree at `root`: every path, its kind, and a file's bytes or a link's target.
    static func treeDigest(of root: String) throws -> String {
        let fileManager = FileManager.default
        var lines: [String] = []
        for case let relative as String in fileManager.enumerator(atPath: root)! {
            let path = root + "/" + relative
            let attributes = try fileManager.attributesOfItem(atPath: path)
            switch attributes[.type] as? FileAttributeType {
            case .typeSymbolicLink?:
                lines.append("l \(relative) -> \(try fileManager.destinationOfSymbolicLink(atPath: path))")
            case .typeDirectory?:
                lines.append("d \(relative)")
            default:
                lines.append("f \(relative) \(try SHA256Hasher.digest(ofFileAt: path).digest.hex)")
            }
        }
        return SHA256Hasher.digest(ofUTF8: lines.sorted().joined(separator: "\n")).hex
    }
}
