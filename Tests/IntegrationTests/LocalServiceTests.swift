import Foundation
import TestKit
import Testing

/// The local service from real CLI processes: two `conduit run`s at once through one service, status
/// from a third terminal, Ctrl-C, and `$HOME`.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct LocalServiceTests {
    /// A pipeline whose step says it started (a file), then waits for `release` to exist.
    static func waiting(_ name: String, in directory: String) throws -> String {
        try Fixtures.pipeline("""
            type: pipeline
            display_name: \(name)
            outputs:
              said: {type: uri_folder}
            jobs:
              hold:
                command: touch \(directory)/\(name).started; while [ ! -e \(directory)/release ]; do sleep 0.05; done; echo \(name) > ${{outputs.said}}/said.txt
                outputs:
                  said: ${{parent.outputs.said}}
            """, named: "\(name).yml", in: directory)
    }

    /// `conduit ARGS` with `CONDUIT_HOME=home`, not waited for.
    static func start(_ arguments: [String], home: String, directory: String, environment: [String: String] = [:]) throws -> ChildHandle {
        var merged = ["CONDUIT_HOME": home, "CONDUIT_URL": "", "CONDUIT_SERVICE_IDLE_EXIT": "20s"]
        merged.merge(environment) { _, new in new }
        return try ChildHandle(
            name: arguments.joined(separator: " "), executable: ProcessHarness.conduitExecutable(), arguments: arguments,
            environment: merged, directory: directory)
    }

    /// Waits until `path` exists (and holds `containing`, when given), at most `timeout`.
    static func waitForFile(_ path: String, containing: String? = nil, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let containing {
                if let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains(containing) { return true }
            } else if FileManager.default.fileExists(atPath: path) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Stops the local service of `home` (called from `defer`, which cannot wait: the stop runs
    /// as a process of its own that this returns before).
    static func stopService(home: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessHarness.conduitExecutable())
        process.arguments = ["service", "stop"]
        var environment = ProcessInfo.processInfo.environment
        environment["CONDUIT_HOME"] = home
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    @Test func twoRunsAtOnceShareOneServiceAndAThirdTerminalSeesThem() async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let home = work + "/home"
        defer { try? Self.stopService(home: home) }
        // Two slots whatever the machine has: both steps must run at once.
        let first = try Self.start(["run", try Self.waiting("first", in: work), "--json", "--slots", "2"], home: home, directory: work)
        let second = try Self.start(["run", try Self.waiting("second", in: work), "--json", "--slots", "2"], home: home, directory: work)
        // Both steps run at once: neither ends before the other started.
        #expect(await Self.waitForFile(work + "/first.started"), "\(first.text)")
        #expect(await Self.waitForFile(work + "/second.started"), "\(second.text)")

        let listed = try await runEmbedded(["runs", "--json"], home: home)
        #expect(listed.status == 0, "\(listed.stderr)")
        let runs = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(Set(runs.compactMap { $0["pipeline"] as? String }) == ["first", "second"], "\(runs)")
        #expect(runs.allSatisfy { $0["status"] as? String == "running" }, "\(runs)")
        let id = try #require(runs.first?["run"] as? String)
        let status = try await runEmbedded(["status", id], home: home)
        #expect(status.stdout.contains("hold") && status.stdout.contains("running"), "\(status.stdout)")
        // One service serves both: its state file names one process, which is up (the client that lost
        // the race to start it left its own service to exit).
        let state = try #require(FileManager.default.contents(atPath: home + "/service.json"))
        let pid = try #require((try JSONSerialization.jsonObject(with: state) as? [String: Any])?["pid"] as? Int)
        #expect(kill(pid_t(pid), 0) == 0)

        try "go".write(toFile: work + "/release", atomically: true, encoding: .utf8)
        #expect(await first.waitForExit() == 0, "\(first.text)")
        #expect(await second.waitForExit() == 0, "\(second.text)")
        // Each run's outputs land in a folder of its own; `latest` points at one of them.
        let summaries = try [first, second].map { handle -> [String: Any] in
            let text = handle.text
            let start = try #require(text.firstIndex(of: "{"))
            return try JSONSerialization.jsonObject(with: Data(text[start...].utf8)) as? [String: Any] ?? [:]
        }
        for summary in summaries {
            let run = try #require(summary["run"] as? String)
            let said = try String(contentsOfFile: work + "/conduit-outputs/\(run)/said/said.txt", encoding: .utf8)
            #expect(said == (summary["pipeline"] as? String ?? "") + "\n")
        }
        let latest = try FileManager.default.destinationOfSymbolicLink(atPath: work + "/conduit-outputs/latest")
        #expect(summaries.contains { $0["run"] as? String == latest }, "\(latest)")
    }

    @Test func ctrlCCancelsTheRunAndLeavesNoProcess() async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let home = work + "/home"
        defer { try? Self.stopService(home: home) }
        let pipeline = try Fixtures.pipeline("""
            type: pipeline
            display_name: long
            jobs:
              sleepy:
                command: echo $$ > \(work)/step.pid; exec sleep 600
            """, named: "long.yml", in: work)
        let client = try Self.start(["run", pipeline], home: home, directory: work)
        #expect(await Self.waitForFile(work + "/step.pid", containing: "\n"), "\(client.text)")
        let stepPID = try #require(Int32(try String(contentsOfFile: work + "/step.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        client.signal(SIGINT)
        #expect(await client.waitForExit() == 130, "\(client.text)")
        #expect(client.text.contains("canceling run"), "\(client.text)")

        let listed = try await runEmbedded(["runs", "--json"], home: home)
        let runs = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(runs.first?["status"] as? String == "canceled", "\(runs)")
        // The step's process is gone (its whole group was stopped).
        let deadline = ContinuousClock.now + .seconds(30)
        while kill(stepPID, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(kill(stepPID, 0) != 0, "the step's process \(stepPID) is still running")
    }

    @Test func ctrlCOnSubmitWaitLeavesTheRunGoingAndSaysHowToFollowIt() async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let home = work + "/home"
        defer { try? Self.stopService(home: home) }
        let client = try Self.start(["submit", try Self.waiting("detached", in: work), "--wait"], home: home, directory: work)
        #expect(await Self.waitForFile(work + "/detached.started"), "\(client.text)")
        client.signal(SIGINT)
        #expect(await client.waitForExit() == 130, "\(client.text)")
        #expect(client.text.contains("goes on without this terminal") && client.text.contains("conduit status run-"), "\(client.text)")
        // The run was left going, not canceled: released, it completes.
        let listed = try await runEmbedded(["runs", "--json"], home: home)
        let runs = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(runs.first?["status"] as? String == "running", "\(runs)")
        let run = try #require(runs.first?["run"] as? String)
        try "go".write(toFile: work + "/release", atomically: true, encoding: .utf8)
        let waited = try await runEmbedded(["status", run, "--json"], home: home)
        #expect(waited.status == 0, "\(waited.stderr)")
    }

    @Test func stoppingTheServiceStopsARunningStepWhichRunsAgainWhenItIsBack() async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let home = work + "/home"
        defer { try? Self.stopService(home: home) }
        let pipeline = try Fixtures.pipeline("""
            type: pipeline
            display_name: resumable
            jobs:
              sleepy:
                command: echo $$ >> \(work)/step.pids; exec sleep 600
            """, named: "resumable.yml", in: work)
        let submitted = try await runEmbedded(["run", pipeline, "--detach"], home: home, directory: work)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(await Self.waitForFile(work + "/step.pids", containing: "\n"), "the step started")
        let first = try #require(Int32(try String(contentsOfFile: work + "/step.pids", encoding: .utf8).split(separator: "\n").first ?? ""))

        let stopped = try await runEmbedded(["service", "stop"], home: home)
        #expect(stopped.status == 0 && stopped.stdout.contains("stopped the local service"), "\(stopped.stdout)\(stopped.stderr)")
        #expect(kill(first, 0) != 0, "the step's process went with the service")
        #expect(!FileManager.default.fileExists(atPath: home + "/service.json"))

        // The next command starts the service again, and the run goes on: its step runs anew.
        let status = try await runEmbedded(["status", run], home: home)
        #expect(status.status == 0, "\(status.stderr)")
        let deadline = ContinuousClock.now + .seconds(60)
        var pids: [Substring] = []
        while pids.count < 2, ContinuousClock.now < deadline {
            pids = (try? String(contentsOfFile: work + "/step.pids", encoding: .utf8))?.split(separator: "\n") ?? []
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(pids.count == 2, "the step ran again after the restart: \(pids)")
        let canceled = try await runEmbedded(["cancel", run], home: home)
        #expect(canceled.status == 0, "\(canceled.stderr)")
    }

    @Test func theStudioOfTheLocalServiceOpensWithItsLinkAndRefusesOthers() async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let home = work + "/home"
        defer { try? Self.stopService(home: home) }
        let ui = try await runEmbedded(["ui", "--no-open"], home: home)
        #expect(ui.status == 0, "\(ui.stderr)")
        let link = ui.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(link.hasPrefix("http://127.0.0.1:") && link.contains("/ui/login?token="), "\(link)")
        func curl(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["-s", "-o", "/dev/null", "-D", "-"] + arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        // The link signs in: a redirect to the page with the session cookie.
        let signedIn = try curl([link])
        #expect(signedIn.hasPrefix("HTTP/1.1 303") && signedIn.lowercased().contains("set-cookie:"), "\(signedIn)")
        // Anything without the token is refused: the port is on loopback, but other users share it.
        let base = String(link[..<link.range(of: "/ui/login")!.lowerBound])
        #expect(try curl([base + "/v1/runs"]).hasPrefix("HTTP/1.1 401"))
        #expect(try curl([base + "/ui/login?token=wrong-token-0123456789"]).hasPrefix("HTTP/1.1 200"), "the form again, no cookie")
    }

    @Test func homeIsHonouredWithoutConduitHome() async throws {
        let work = try ProcessHarness.temporaryDirectory()
        let home = work + "/user"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let pipeline = try Fixtures.pipeline("""
            type: pipeline
            jobs:
              hello:
                command: echo hello
            """, named: "hello.yml", in: work)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessHarness.conduitExecutable())
        process.arguments = ["run", pipeline]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CONDUIT_HOME")
        environment.removeValue(forKey: "CONDUIT_URL")
        environment["HOME"] = home
        environment["CONDUIT_SERVICE_IDLE_EXIT"] = "20s"
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        defer { try? Self.stopService(home: home + "/.conduit") }
        #expect(process.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: home + "/.conduit/conduit.sqlite"), "the service's data directory is $HOME/.conduit")
        let listed = try await runEmbedded(["runs", "--json"], home: home + "/.conduit")
        #expect(listed.stdout.contains("\"completed\""), "\(listed.stdout)")
    }
}
