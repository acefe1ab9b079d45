import Foundation
@testable import Spec

/// A temporary directory of pipeline files written from strings, removed on `deinit`.
final class Fixture {
    /// Absolute path of the directory.
    let directory: String

    /// Creates the directory and writes `files` (relative path → text) into it.
    init(_ files: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("spec-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files { try write(name, text) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes `text` to `name`, creating folders.
    func write(_ name: String, _ text: String) throws {
        let path = self.path(name)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true
        )
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Creates an empty directory `name`.
    func makeDirectory(_ name: String) throws {
        try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true)
    }

    /// Absolute path of `name` in the fixture.
    func path(_ name: String) -> String { directory + "/" + name }

    /// Loads `name` (default `pipeline.yml`).
    func load(_ name: String = "pipeline.yml", overrides: [String] = []) throws(SpecError) -> PipelinePlan {
        try PipelineLoader.load(file: path(name), overrides: overrides)
    }

    /// The error loading `name` throws, or nil when it loads.
    func error(_ name: String = "pipeline.yml", overrides: [String] = []) -> SpecError? {
        do {
            _ = try load(name, overrides: overrides)
            return nil
        } catch {
            return error
        }
    }

    /// Loads a single pipeline written as `text`.
    static func load(_ text: String, overrides: [String] = []) throws -> PipelinePlan {
        try Fixture(["pipeline.yml": text]).load(overrides: overrides)
    }

    /// The error loading the single pipeline `text` throws.
    static func error(_ text: String, overrides: [String] = []) throws -> SpecError? {
        try Fixture(["pipeline.yml": text]).error(overrides: overrides)
    }
}

extension PipelinePlan {
    /// The step named `name`.
    func step(_ name: String) -> PlannedStep? { steps.first { $0.name == name } }
}

extension PlannedStep {
    /// The command with data placeholders shown as `<in:NAME>` / `<out:NAME>`.
    var preview: String {
        command.segments.map { segment in
            switch segment {
            case .text(let text): return text
            case .value(let value): return value
            case .inputPath(let name): return "<in:\(name)>"
            case .outputPath(let name): return "<out:\(name)>"
            }
        }.joined()
    }
}
