import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisEcho
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// Hot reload and graceful drain, live: in-process through ``ConfigReloader`` (the same call
/// SIGHUP and the file watch make), and through the real executable with real signals.
@Suite("Reload and drain (live)", .serialized)
struct ReloadAndDrainTests {
    /// A config file on disk with routes for `echoPort`; `extraRoute` adds one more.
    static func configText(echoPort: Int, listenPort: Int = 0, extraRoute: Bool = false) -> String {
        let extra = extraRoute ? #", { "name": "added", "pathPrefix": "/added", "upstream": "http://127.0.0.1:\#(echoPort)", "public": true }"# : ""
        return """
            { "listen": { "port": \(listenPort) }, "logging": { "accessLog": false }, "shutdownTimeout": 10,
              "routes": [{ "name": "app", "pathPrefix": "/", "upstream": "http://127.0.0.1:\(echoPort)", "public": true }\(extra)] }
            """
    }

    /// An echo upstream, a config file and a gateway started from it, with its reloader.
    struct Setup {
        let echo: EchoUpstream
        let live: LiveGateway
        let file: URL
        let reloader: ConfigReloader
        let audit: CapturedLog

        static func start() async throws -> Setup {
            let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("pc-reload-\(UUID().uuidString).json")
            do {
                try configText(echoPort: echo.port).write(to: file, atomically: true, encoding: .utf8)
                let audit = CapturedLog()
                let live = try await LiveGateway.start(try GatewayConfig.load(file: file.path), audit: audit)
                let reloader = ConfigReloader(
                    path: file.path, gateway: live.gateway, runningHash: "-", audit: audit.logger(label: GatewayServices.auditLabel),
                    logger: audit.logger(label: "reload"))
                return Setup(echo: echo, live: live, file: file, reloader: reloader, audit: audit)
            } catch {
                await echo.close()
                try? FileManager.default.removeItem(at: file)
                throw error
            }
        }

        /// Starts it all, runs `body` and stops it all whether `body` returns or throws.
        static func with<T>(_ body: (Setup) async throws -> T) async throws -> T {
            try await scoped(try await start(), stop: { await $0.stop() }, body)
        }

        func write(_ text: String) throws { try text.write(to: file, atomically: true, encoding: .utf8) }

        func stop() async {
            await live.stop()
            await echo.close()
            try? FileManager.default.removeItem(at: file)
        }
    }

    @Test("an invalid config is refused with its field path and the old routes keep serving; a valid one adds a route")
    func refuseThenApply() async throws {
        try await Setup.with { setup in
            let client = try await TestHTTPClient.connect(port: setup.live.port)
            #expect(try await client.send("/added/x").echoedURI() == "/added/x", "before: the catch-all route takes it")

            try setup.write(#"{ "routes": [{ "name": "app", "upstream": "ftp://nowhere", "public": true }], "limits": { "maxConnections": -1 } }"#)
            guard case .refused(_, let problems) = await setup.reloader.reload(trigger: "test") else {
                Issue.record("an invalid config was applied")
                return
            }
            #expect(problems.contains { $0.hasPrefix("routes[0].upstream:") })
            #expect(problems.contains { $0.hasPrefix("limits.maxConnections:") })
            #expect(setup.audit.lines.contains { $0.contains("event=config.reload_failed") })
            #expect(try await client.send("/still").status == 200, "the running config stays, on the same keep-alive connection")
            #expect(setup.live.gateway.config.routes.count == 1)

            try setup.write(Self.configText(echoPort: setup.echo.port, listenPort: 1, extraRoute: true))
            guard case .applied(let hash, let needsRestart) = await setup.reloader.reload(trigger: "test") else {
                Issue.record("a valid config was refused")
                return
            }
            #expect(needsRestart == ["listen"], "the listen port cannot change without a restart, and is reported")
            #expect(setup.audit.lines.contains { $0.contains("event=config.reloaded") && $0.contains("hash=\(hash)") })
            // The new hash is the running one (reloads are counted by their audit events).
            let metrics = await setup.live.gateway.scrapeMetrics()
            #expect(metrics.contains(#"portcullis_config_info{hash="\#(hash)"} 1"#), "\(metrics)")
            let added = try await client.send("/added/x")
            #expect(added.status == 200)
            #expect(setup.live.gateway.config.routes.map(\.name) == ["app", "added"])
            await client.close()
        }
    }

    @Test("a file behind a swapped symbolic link (a Kubernetes Secret or ConfigMap update) counts as changed")
    func fingerprintFollowsLinks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-links-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for version in ["v1", "v2"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(version), withIntermediateDirectories: true)
            try "keys \(version)".write(to: folder.appendingPathComponent("\(version)/keys"), atomically: false, encoding: .utf8)
        }
        // As the kubelet lays it out: keys -> ..data/keys, ..data -> v1; an update swaps ..data.
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("..data").path, withDestinationPath: "v1")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("keys").path, withDestinationPath: "..data/keys")
        let path = folder.appendingPathComponent("keys").path
        let before = FileFingerprint(path: path)
        #expect(before.exists)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("..data_tmp").path, withDestinationPath: "v2")
        #expect(rename(folder.appendingPathComponent("..data_tmp").path, folder.appendingPathComponent("..data").path) == 0)
        #expect(FileFingerprint(path: path) != before, "the swapped link was not noticed")
    }

    @Test("the file watch reloads on a change to the config file")
    func fileWatch() async throws {
        try await Setup.with { setup in
            #expect(!setup.reloader.watchedFilesChanged())
            try setup.write(Self.configText(echoPort: setup.echo.port, extraRoute: true))
            #expect(setup.reloader.watchedFilesChanged())
            let watcher = Task { await setup.reloader.watch(interval: .milliseconds(50)) }
            defer { watcher.cancel() }
            let applied = await eventually(within: 5) { setup.live.gateway.config.routes.count == 2 }
            #expect(applied)
        }
    }

    @Test("a 1 GiB download and an open WebSocket survive a reload that adds a route")
    func streamsSurviveReload() async throws {
        try await Setup.with { setup in
            let socket = try BlockingSocket(port: setup.live.port)
            defer { socket.close() }
            try socket.send(Array("GET /.echo/ws HTTP/1.1\r\nHost: g\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8))
            let head = String(decoding: try socket.receive(until: { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }), as: UTF8.self)
            #expect(head.hasPrefix("HTTP/1.1 101"))

            let downloader = try await TestHTTPClient.connect(port: setup.live.port, keepBody: false)
            let download = Task { try await downloader.send("/.echo/download?bytes=\(1 << 30)") }
            try await Task.sleep(for: .milliseconds(200))
            try setup.write(Self.configText(echoPort: setup.echo.port, extraRoute: true))
            guard case .applied = await setup.reloader.reload(trigger: "test") else {
                Issue.record("reload refused")
                return
            }
            let other = try await TestHTTPClient.connect(port: setup.live.port)
            #expect(try await other.send("/added/x").status == 200, "the next request uses the new config")
            await other.close()

            try socket.send(WebSocketProxyTests.textFrame("after reload"))
            let reply = try socket.receive(until: { $0.count >= 2 + 12 })
            #expect(String(decoding: reply[2...], as: UTF8.self) == "after reload")

            let response = try await download.value
            #expect(response.status == 200)
            #expect(response.bodyBytes == 1 << 30, "the download in flight finished on its connection")
            await downloader.close()
        }
    }

    @Test("draining lets a slow response finish with Connection: close, refuses new connections, and returns")
    func drain() async throws {
        try await Setup.with { setup in
            let idle = try await TestHTTPClient.connect(port: setup.live.port)
            #expect(try await idle.send("/warm").status == 200)
            let busy = try await TestHTTPClient.connect(port: setup.live.port)
            let slow = Task { try await busy.send("/.echo/slow?ms=1500") }
            try await Task.sleep(for: .milliseconds(300))
            let started = Date()
            let finished = await setup.live.gateway.drain(timeout: .seconds(10))
            #expect(finished)
            let response = try await slow.value
            #expect(response.status == 200, "the request in flight completed")
            #expect(response.head.headers["connection"].contains("close"))
            #expect(Date().timeIntervalSince(started) > 0.9, "the drain waited for it")
            try? await idle.channel.closeFuture.get()
            #expect(!idle.channel.isActive, "the idle keep-alive connection was closed")
            await #expect(throws: (any Error).self) { _ = try await TestHTTPClient.connect(port: setup.live.port) }
        }
    }
}
