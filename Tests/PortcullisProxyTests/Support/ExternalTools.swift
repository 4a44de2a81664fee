import Foundation
import NIOHTTP1

/// Programs outside the Swift toolchain that some live tests drive: a real browser
/// (Chromium + chromedriver + Selenium) and a third-party OpenID provider
/// (`oidc-provider-mock`), both installed by `.ci/run`.
///
/// Tests that need them are skipped on a developer machine without them, but never under
/// `CI=true`: there a missing tool must fail the run, not hide behind a skip.
enum ExternalTools {
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static let hasBrowser: Bool =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") && pythonCanImport("selenium")

    static let hasMockProvider: Bool = pythonCanImport("oidc_provider_mock")

    static func pythonCanImport(_ module: String) -> Bool {
        (try? run(["python3", "-c", "import \(module)"]).status) == 0
    }

    /// Runs a command to completion; returns its exit status and standard output.
    @discardableResult
    static func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a chatty child cannot block on a full pipe.
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    /// ``run(_:timeout:)`` on a dispatch thread: a test must not block one of the cooperative
    /// pool's threads (two on this machine) while a child runs, or other tests' tasks (and
    /// their timing) starve meanwhile.
    static func runDetached(_ arguments: [String], timeout: TimeInterval = 120) async throws -> (status: Int32, output: String, error: String) {
        try await detached { try run(arguments, timeout: timeout) }
    }

    /// Any blocking work (waiting for a child process) on a dispatch thread, for the same reason.
    static func detached<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// The project root, for paths such as `Tests/Browser/login_flow.py`.
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the Selenium login script; returns its one-line JSON result. The wait happens
    /// on a dispatch thread: blocking a cooperative-pool thread (two on this machine)
    /// could starve the gateway's sign-in tasks the browser is waiting for.
    static func browserLogin(start: String, idp: String, user: String, then: [String] = [], insecureTLS: Bool = false) async throws -> [String: Any] {
        var arguments = ["python3", projectRoot.appendingPathComponent("Tests/Browser/login_flow.py").path, "--start", start, "--idp", idp, "--user", user]
        if insecureTLS { arguments.append("--insecure-tls") }
        for url in then { arguments += ["--then", url] }
        let result = try await runDetached(arguments)
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BrowserFailure(message: "no JSON from login_flow.py (exit \(result.status)): \(result.output) \(result.error.suffix(2000))")
        }
        return object
    }

    struct BrowserFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// A running `oidc-provider-mock` (a third-party OpenID provider from PyPI).
final class MockOpenIDProvider: @unchecked Sendable {
    let process: Process
    let port: Int
    var issuer: String { "http://127.0.0.1:\(port)" }

    init(port: Int) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", String(port), "--require-nonce"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// One request to the provider on a fresh connection (Host must match the issuer).
    func send(_ uri: String, method: HTTPMethod = .GET, contentType: String? = nil, body: String? = nil) async throws -> TestResponse {
        var headers = [("Host", "127.0.0.1:\(port)")]
        if let contentType { headers.append(("Content-Type", contentType)) }
        let target = uri.hasPrefix(issuer) ? String(uri.dropFirst(issuer.count)) : uri
        return try await TestHTTPClient.with(port: port) { client in try await client.send(target, method: method, headers: headers, body: body) }
    }

    /// Waits until discovery answers.
    func waitUntilReady() async throws {
        for _ in 0..<150 {
            if let response = try? await send("/.well-known/openid-configuration"), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ExternalTools.BrowserFailure(message: "oidc-provider-mock did not start on port \(port)")
    }

    /// Presets the claims the provider issues for `subject`.
    func setClaims(_ subject: String, _ claims: [String: Any]) async throws {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: claims), as: UTF8.self)
        let response = try await send("/users/" + subject, method: .PUT, contentType: "application/json", body: body)
        guard response.status == 204 else { throw ExternalTools.BrowserFailure(message: "PUT /users/\(subject) answered \(response.status)") }
    }

    /// Kills the provider at once. SIGKILL, because Foundation's `waitUntilExit` busy-waits
    /// off the main thread while a child takes its time over a graceful shutdown.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
