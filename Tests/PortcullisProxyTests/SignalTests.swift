import Foundation
import PortcullisEcho
import Testing

/// The real executable under real signals: `serve` reloads on SIGHUP and through
/// `portcullis reload --pid-file`, and on SIGTERM lets a slow response finish and exits 0.
@Suite("Signals (live, the portcullis executable)", .serialized)
struct SignalTests {
    /// The executable `swift build` put beside this test binary.
    static let executable: URL? = {
        guard let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        var directory = URL(fileURLWithPath: me).deletingLastPathComponent()
        if directory.path.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        let binary = directory.appendingPathComponent("portcullis")
        return FileManager.default.isExecutableFile(atPath: binary.path) ? binary : nil
    }()

    static func run(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("SIGHUP and `portcullis reload` add a route without a restart; SIGTERM drains a slow response and exits 0")
    func reloadAndStop() async throws {
        guard Self.executable != nil else {
            #expect(!ExternalTools.isCI, "the portcullis executable is missing beside the tests")
            return
        }
        try await EchoUpstream.with { echo in
            let port = try closedPort()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-signals-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let config = folder.appendingPathComponent("gateway.json"), pidFile = folder.appendingPathComponent("gateway.pid")
            func write(routes: [String]) throws {
                let list = routes.map { #"{ "name": "\#($0)", "pathPrefix": "/\#($0)", "upstream": "http://127.0.0.1:\#(echo.port)", "public": true, "stripPrefix": true }"# }
                // The access and audit logs go to their own files.
                try #"{ "listen": { "port": \#(port) }, "admin": { "listen": { "port": 0 } }, "logging": { "accessLogFile": "access.log", "auditLogFile": "audit.log" }, "routes": [\#(list.joined(separator: ","))] }"#
                    .write(to: config, atomically: true, encoding: .utf8)
            }
            try write(routes: ["app"])
            let gateway = try Self.run(["serve", "--config", config.path, "--pid-file", pidFile.path])
            defer { if gateway.isRunning { gateway.terminate() } }

            func status(_ path: String) async -> UInt? {
                try? await TestHTTPClient.with(port: port) { client in try await client.send(path).status }
            }
            #expect(await eventually(within: 30) { FileManager.default.fileExists(atPath: pidFile.path) })
            var up = false
            for _ in 0..<300 where !up {
                up = await status("/app/x") == 200
                if !up { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(up, "the gateway started")
            #expect(await status("/added/x") == 404)

            // SIGHUP after the file changed (the file watch may get there first: either applies it).
            try write(routes: ["app", "added"])
            kill(gateway.processIdentifier, SIGHUP)
            var added = false
            for _ in 0..<50 where !added {
                added = await status("/added/x") == 200
                if !added { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(added, "the added route answers after SIGHUP")

            // `portcullis reload --pid-file`: a config the command refuses is never signalled.
            try #"{ "routes": [] }"#.write(to: config, atomically: true, encoding: .utf8)
            let refused = try Self.run(["reload", "--config", config.path, "--pid-file", pidFile.path])
            refused.waitUntilExit()
            #expect(refused.terminationStatus == 2, "an invalid config is reported by the command")
            try write(routes: ["app", "added", "third"])
            let reload = try Self.run(["reload", "--pid-file", pidFile.path])
            reload.waitUntilExit()
            #expect(reload.terminationStatus == 0)
            var third = false
            for _ in 0..<50 where !third {
                third = await status("/third/x") == 200
                if !third { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(third, "the route added before `portcullis reload` answers")
            #expect(gateway.isRunning, "no restart")

            // SIGTERM during a slow response: it completes, then the process exits 0.
            let client = try await TestHTTPClient.connect(port: port)
            let slow = Task { try await client.send("/app/.echo/slow?ms=1500") }
            try await Task.sleep(for: .milliseconds(300))
            kill(gateway.processIdentifier, SIGTERM)
            let response = try await slow.value
            #expect(response.status == 200)
            #expect(response.head.headers["connection"].contains("close"))
            #expect(await eventually(within: 15) { !gateway.isRunning })
            #expect(gateway.terminationStatus == 0)
            #expect(gateway.terminationReason == .exit)
            await client.close()
            // Request lines in the access log file, decisions (the reloads) in the audit log file.
            let access = (try? String(contentsOf: folder.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
            let audit = (try? String(contentsOf: folder.appendingPathComponent("audit.log"), encoding: .utf8)) ?? ""
            #expect(access.contains("/app/x") && !access.contains("config.reloaded"), "\(access.prefix(300))")
            #expect(audit.contains("event=config.reloaded") && !audit.contains("/app/x"), "\(audit.prefix(300))")
        }
    }
}
