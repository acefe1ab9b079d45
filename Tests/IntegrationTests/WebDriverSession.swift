import Foundation
import Glibc
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
            _ = try await created.command("POST", "/timeouts", ["script": 300_000, "pageLoad": 60_000])
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

    /// One WebDriver request over a plain socket (chromedriver's `Header:value` lines, without a space, are
    /// refused by URLSession on Linux), on a thread of its own so that the blocking socket never holds the
    /// cooperative pool.
    private static func request(base: String, _ method: String, _ path: String, _ body: [String: Any]?) async throws -> [String: Any] {
        let port = UInt16(base.split(separator: ":").last.flatMap { Int($0) } ?? 0)
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
        let request = Data(head.utf8) + payload
        let answer: Data = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try exchange(request, port: port) })
            }
        }
        guard let split = answer.range(of: Data("\r\n\r\n".utf8)) else {
            throw HarnessError("WebDriver answered \(method) \(path) without a complete head")
        }
        let data = answer[split.upperBound...]
        guard let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else {
            throw HarnessError("WebDriver answered \(method) \(path) with something that is not a JSON object")
        }
        return object
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the answer until the server closes the connection.
    private static func exchange(_ request: Data, port: UInt16) throws -> Data {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("connect to chromedriver: \(String(cString: strerror(errno)))") }
        var sent = 0
        let bytes = [UInt8](request)
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw HarnessError("send to chromedriver: \(String(cString: strerror(errno)))") }
            sent += count
        }
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        // chromedriver keeps the connection open: the answer ends after Content-Length bytes of body.
        while !isComplete(answer) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else {
                if errno == EINTR { continue }
                throw HarnessError("recv from chromedriver: \(String(cString: strerror(errno)))")
            }
            answer.append(contentsOf: buffer[0..<count])
        }
        return answer
    }

    /// Whether `answer` holds a whole head and as many body bytes as its Content-Length says.
    private static func isComplete(_ answer: Data) -> Bool {
        guard let split = answer.range(of: Data("\r\n\r\n".utf8)) else { return false }
        let head = String(decoding: answer[..<split.lowerBound], as: UTF8.self).lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return false }
        return answer.count - split.upperBound >= length
    }
}
