import AsyncHTTPClient
import CalsyncTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A `chromedriver` process driving Debian's `chromium` headless over loopback, spoken to with the W3C
/// WebDriver HTTP protocol (JSON over HTTP) through AsyncHTTPClient.
final class WebDriver: @unchecked Sendable {
    let driver: ChildProcess
    let port: Int
    let http: HTTPClient
    private(set) var session = ""
    let logURL: URL

    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts chromedriver on a free port and opens a headless browser session.
    init() async throws {
        for tool in [Self.chromium, Self.chromedriver] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Failure(description: "\(tool) is missing: `make test` installs Debian's chromium and chromium-driver (scripts/services.sh deps)")
        }
        port = try PrivateServers.freePort()
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("chromedriver-\(port).log")
        driver = try ChildProcess(
            executable: Self.chromedriver, arguments: ["--port=\(port)"], environment: ProcessInfo.processInfo.environment,
            stdoutPath: logURL.path, stderrPath: logURL.path)
        http = HTTPClient(eventLoopGroupProvider: .singleton)
        var ready = false
        for _ in 0..<100 {
            if let status = try? await call("GET", "/status"), let value = status["value"] as? [String: Any], value["ready"] as? Bool == true {
                ready = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard ready else { throw Failure(description: "chromedriver did not start on port \(port)") }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": Self.chromium,
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                                 "--no-first-run", "--disable-extensions"],
                    ],
                ]
            ]
        ]
        let answer = try await call("POST", "/session", capabilities)
        guard let value = answer["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            throw Failure(description: "chromedriver opened no session: \(answer)")
        }
        session = id
    }

    /// Ends the browser session and stops chromedriver and the HTTP client.
    func close() async {
        if !session.isEmpty { _ = try? await call("DELETE", "/session/\(session)") }
        driver.signal(SIGTERM)
        _ = await driver.wait(timeout: .seconds(5))
        driver.signal(SIGKILL)
        try? await http.shutdown()
    }

    /// One WebDriver command; throws on a WebDriver error.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let body { request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))) }
        let response = try await http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        if response.status.code >= 400 {
            throw Failure(description: "WebDriver \(method) \(path): HTTP \(response.status.code) \(json["value"] ?? "")")
        }
        return json
    }

    private var base: String { "/session/\(session)" }

    /// Opens a URL.
    func open(_ url: String) async throws { try await call("POST", "\(base)/url", ["url": url]) }

    /// The current URL.
    func url() async throws -> String { try await call("GET", "\(base)/url")["value"] as? String ?? "" }

    /// The elements a CSS selector finds (their ids).
    func all(_ css: String) async throws -> [String] {
        let value = try await call("POST", "\(base)/elements", ["using": "css selector", "value": css])["value"] as? [[String: Any]] ?? []
        return value.compactMap { $0[Self.elementKey] as? String }
    }

    /// The first element a CSS selector finds, waiting up to `timeout` for it.
    func find(_ css: String, timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let first = try await all(css).first { return first }
            if ContinuousClock.now > deadline { throw Failure(description: "no element \(css) on \(try await url())") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs `body` again when the element it found was replaced meanwhile (a page refreshing part of itself).
    func retryingStale<T>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as Failure where error.description.contains("stale element") && attempt < 10 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Clicks the element a selector finds.
    func click(_ css: String) async throws {
        try await retryingStale { try await call("POST", "\(base)/element/\(try await find(css))/click", [:]) }
    }

    /// Clicks what a selector finds and waits until the browser has loaded the next page (a form's submission
    /// or a link may start after the click's answer).
    func clickAndWait(_ css: String, timeout: Duration = .seconds(15)) async throws {
        try await call("POST", "\(base)/execute/sync", ["script": "window.__calsyncOldPage = true;", "args": []])
        try await click(css)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let state = try? await call(
                "POST", "\(base)/execute/sync",
                ["script": "return window.__calsyncOldPage === true ? 'old' : document.readyState;", "args": []])
            if let value = state?["value"] as? String, value == "complete" { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "clicking \(css) loaded no new page within \(timeout)")
    }

    /// Types into the element a selector finds (after clearing it).
    func type(_ css: String, _ text: String) async throws {
        try await retryingStale {
            let element = try await find(css)
            try await call("POST", "\(base)/element/\(element)/clear", [:])
            try await call("POST", "\(base)/element/\(element)/value", ["text": text])
        }
    }

    /// The visible text of the element a selector finds.
    func text(_ css: String) async throws -> String {
        try await retryingStale { try await call("GET", "\(base)/element/\(try await find(css))/text")["value"] as? String ?? "" }
    }

    /// The page's HTML.
    func source() async throws -> String { try await call("GET", "\(base)/source")["value"] as? String ?? "" }

    /// Runs an asynchronous script in the page; its last argument is the callback.
    func executeAsync(_ script: String) async throws -> Any? {
        try await call("POST", "\(base)/execute/async", ["script": script, "args": []])["value"]
    }

    /// Accepts the page's confirm dialog.
    func acceptAlert() async throws { try await call("POST", "\(base)/alert/accept", [:]) }

    /// Saves a PNG of the viewport.
    func screenshot(to url: URL) async throws {
        let value = try await call("GET", "\(base)/screenshot")["value"] as? String ?? ""
        guard let data = Data(base64Encoded: value) else { throw Failure(description: "screenshot was not base64") }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }
}
