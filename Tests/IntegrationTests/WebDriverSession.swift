import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestKit

/// A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`), for the
/// studio's tests: pages are opened, clicked and inspected in a real browser.
///
/// Waiting is done in the page: ``waitFor(_:timeout:)`` runs an asynchronous script that answers as
/// soon as a condition holds (checked on every DOM mutation), or fails at the deadline.
final class WebDriverSession: @unchecked Sendable {
    // `@unchecked Sendable`: used only from the test that owns it.
    let driver: ChildHandle
    let base: String
    let session: String
    let profile: String

    /// Where the screenshots go: `.build/studio-screenshots/`.
    static var screenshotDirectory: String { ProcessHarness.packageRoot() + "/.build/studio-screenshots" }

    /// The driver, or a precise error naming the packages to install.
    static func chromedriverPath() throws -> String {
        for path in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw HarnessError("the studio's tests need a headless Chromium: apt-get install chromium chromium-driver")
    }

    /// Starts chromedriver and a headless Chromium session.
    static func start() async throws -> WebDriverSession {
        let port = try LoopbackPort.unusedBelowEphemeralRange()
        let driver = try ChildHandle(name: "chromedriver", executable: try chromedriverPath(), arguments: ["--port=\(port)"])
        guard await driver.waitForOutput(containing: "started successfully", timeout: .seconds(30)) != nil else {
            await driver.stop()
            throw HarnessError("chromedriver did not start:\n\(driver.text)")
        }
        let base = "http://127.0.0.1:\(port)"
        let profile = try ProcessHarness.temporaryDirectory("conduit-chromium")
        let capabilities: [String: Any] = [
            "capabilities": ["alwaysMatch": [
                "browserName": "chrome",
                "goog:chromeOptions": [
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900",
                             "--user-data-dir=\(profile)", "--no-first-run"],
                ],
            ] as [String: Any]],
        ]
        do {
            let answer = try await request(base: base, "POST", "/session", capabilities)
            guard let value = answer["value"] as? [String: Any], let session = value["sessionId"] as? String else {
                throw HarnessError("chromedriver did not open a session: \(answer)")
            }
            let created = WebDriverSession(driver: driver, base: base, session: session, profile: profile)
            _ = try await created.command("POST", "/timeouts", ["script": 60_000, "pageLoad": 60_000])
            return created
        } catch {
            await driver.stop()
            throw error
        }
    }

    private init(driver: ChildHandle, base: String, session: String, profile: String) {
        self.driver = driver
        self.base = base
        self.session = session
        self.profile = profile
    }

    /// Ends the session and stops the driver and the browser.
    func close() async {
        _ = try? await Self.request(base: base, "DELETE", "/session/\(session)", nil)
        await driver.stop()
        try? FileManager.default.removeItem(atPath: profile)
    }

    /// Opens `url` and waits for the page to load.
    func open(_ url: String) async throws {
        _ = try await command("POST", "/url", ["url": url])
    }

    /// The page's address.
    func currentURL() async throws -> String {
        try await command("GET", "/url", nil) as? String ?? ""
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value; an
    /// `asynchronous` script answers by calling its last argument.
    @discardableResult
    func execute(_ script: String, _ args: [Any] = [], asynchronous: Bool = false) async throws -> Any? {
        try await command("POST", asynchronous ? "/execute/async" : "/execute/sync", ["script": script, "args": args])
    }

    /// Waits until the expression `condition` (JavaScript) is truthy in the page, re-checked on every
    /// change of the DOM; returns its value. Fails with `what` after `timeout`.
    @discardableResult
    func waitFor(_ condition: String, timeout: Duration = .seconds(30), _ what: String) async throws -> Any? {
        let milliseconds = Int(timeout.components.seconds * 1000)
        let script = """
            const done = arguments[arguments.length - 1];
            const check = () => { try { return (\(condition)); } catch (e) { return null; } };
            const first = check();
            if (first) { done(first); return; }
            const timer = setTimeout(() => { observer.disconnect(); done({ timedOut: true }); }, \(milliseconds));
            const observer = new MutationObserver(() => {
                const value = check();
                if (value) { observer.disconnect(); clearTimeout(timer); done(value); }
            });
            observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
            """
        let value = try await command("POST", "/execute/async", ["script": script, "args": []])
        if let object = value as? [String: Any], object["timedOut"] as? Bool == true {
            try? await screenshot("timeout")
            let body = (try? await execute("return document.body ? document.body.innerText.slice(0, 2000) : ''")) as? String ?? ""
            throw HarnessError("the page did not show \(what) within \(timeout); it shows:\n\(body)")
        }
        return value
    }

    /// Finds the element `css` and clicks it (as a user does, through the browser).
    func click(_ css: String) async throws {
        let element = try await find(css)
        _ = try await command("POST", "/element/\(element)/click", [:])
    }

    /// Types `text` into the element `css`.
    func type(_ text: String, into css: String) async throws {
        let element = try await find(css)
        _ = try await command("POST", "/element/\(element)/value", ["text": text])
    }

    /// Saves a PNG of the window as `.build/studio-screenshots/NAME.png`.
    func screenshot(_ name: String) async throws {
        guard let encoded = try await command("GET", "/screenshot", nil) as? String, let data = Data(base64Encoded: encoded) else { return }
        try FileManager.default.createDirectory(atPath: Self.screenshotDirectory, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: Self.screenshotDirectory + "/\(name).png"))
    }

    private func find(_ css: String) async throws -> String {
        let value = try await command("POST", "/element", ["using": "css selector", "value": css])
        guard let object = value as? [String: Any], let id = object.values.first as? String else {
            throw HarnessError("no element \(css) on the page")
        }
        return id
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]?) async throws -> Any? {
        let answer = try await Self.request(base: base, method, "/session/\(session)" + path, body)
        if let value = answer["value"] as? [String: Any], let error = value["error"] as? String {
            throw HarnessError("WebDriver \(method) \(path) failed: \(error): \(value["message"] ?? "")")
        }
        return answer["value"]
    }

    private static func request(base: String, _ method: String, _ path: String, _ body: [String: Any]?) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.timeoutInterval = 120
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, _) = try await URLSession.shared.data(for: request)
        guard let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else {
            throw HarnessError("WebDriver answered \(method) \(path) with something that is not a JSON object")
        }
        return object
    }
}
