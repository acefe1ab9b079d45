import ArgumentParser
import Foundation

/// `conduit ui [RUN]`: prints the studio's address on the coordinator and opens it in a browser.
struct StudioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Print the address of the studio (the coordinator's web page) and open it in a browser where one exists (xdg-open).",
        discussion: "The page is served by the coordinator (--coordinator-url or $CONDUIT_URL). A coordinator with a token asks for it on a login page."
    )

    @Argument(help: "A run to open at (default: the list of runs).")
    var run: String?

    @Flag(name: .customLong("no-open"), help: "Only print the address.")
    var noOpen = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if client.embedded { throw ValidationError("the studio is served by a coordinator daemon; --embedded has none (start one with `conduit coordinator`)") }
    }

    func run() async throws {
        try await withCLIErrors {
            let base = client.coordinatorURL ?? ProcessInfo.processInfo.environment["CONDUIT_URL"] ?? "http://127.0.0.1:8765"
            guard let url = Self.studioURL(base: base, run: run) else {
                throw CLIError("--coordinator-url \(base) is not an http:// URL")
            }
            print(url)
            if !noOpen, let opener = Self.findOnPath("xdg-open") {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: opener)
                process.arguments = [url]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try? process.run()
            }
            return ExitStatus.success
        }
    }

    /// `BASE/ui`, or `BASE/ui#/run/RUN`; nil for a base that is not an http(s) URL.
    static func studioURL(base: String, run: String?) -> String? {
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else { return nil }
        var text = base
        while text.hasSuffix("/") { text.removeLast() }
        text += "/ui"
        if let run { text += "#/run/" + (run.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? run) }
        return text
    }

    /// The path of `name` in a directory of `PATH`, or nil.
    static func findOnPath(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
