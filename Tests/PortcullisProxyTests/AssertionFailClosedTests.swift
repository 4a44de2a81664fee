import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PortcullisCore
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// A route that sends the signed assertion never reaches its upstream without one: when none
/// can be made (here: no signing key loaded; a failed signature takes the same path), proxy mode and forward-auth both refuse with 503
/// and audit `access.assertion_unavailable`, instead of passing the request on unvouched.
@Suite("Signed assertion: fail closed (EmbeddedChannel)")
struct AssertionFailClosedTests {
    static let config = #"""
        { "entra": { "authority": "http://127.0.0.1:1", "tenant": "contoso.example", "clientId": "c", "clientSecretEnv": "SECRET" },
          "assertion": { "lifetime": 60 },
          "trustedProxies": ["127.0.0.1"],
          "routes": [{ "name": "app", "upstream": "http://127.0.0.1:1", "headers": { "send": ["user", "assertion"] } }] }
        """#

    /// Runs `body` with a runtime whose config sends the assertion but which has no signer, a
    /// live session in its gate, and that session's cookie.
    static func signedIn(audit: CapturedLog, _ body: (GatewayRuntime, _ cookie: String) async throws -> Void) async throws {
        let config = try GatewayConfig.load(Data(config.utf8), environment: { $0 == "SECRET" ? "s3cret" : nil })
        let services = GatewayServices(
            session: config.session, store: nil, oidcClient: GatewayServices.makeOIDCClient(), audit: audit.logger(label: "audit"),
            logger: Logger(label: "test"))
        try await scoped(services, stop: { await $0.shutdown() }) { services in
            let runtime = GatewayRuntime(config: config, services: services, signInMethods: [], revalidators: [:])
            #expect(runtime.routes[0].headerPlan.sendsAssertion)
            let setCookie = try await runtime.gate.create(Identity(username: "alice", method: .sso), rules: runtime.sessionRules)
            try await body(runtime, String(setCookie.prefix { $0 != ";" }))
        }
    }

    @Test("proxy mode answers 503 (the upstream is never asked)")
    func proxyMode() async throws {
        let audit = CapturedLog()
        try await Self.signedIn(audit: audit) { runtime, cookie in
            let loop = EmbeddedEventLoop()
            let pool = UpstreamPool(eventLoop: loop, maxIdlePerUpstream: 1, idleTimeout: .seconds(60))
            let channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(
                ClientConnectionHandler(
                    loop: GatewayLoop(pool: pool, runtime: runtime), threadPool: .singleton, accessLog: nil, logger: Logger(label: "test")))
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).get()

            try channel.writeInbound(ByteBuffer(string: "GET /report HTTP/1.1\r\nHost: app.example\r\nCookie: \(cookie)\r\n\r\n"))
            loop.run()
            var answer = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: buffer) }
            #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer)")
            #expect(!answer.lowercased().contains("x-portcullis-assertion"))
            #expect(audit.lines.contains { $0.contains("access.assertion_unavailable") && $0.contains("alice") && $0.contains("proxy") })
            _ = try? channel.finish()
        }
    }

    @Test("forward-auth answers 503, not 200 without the assertion")
    func forwardAuth() async throws {
        let audit = CapturedLog()
        try await Self.signedIn(audit: audit) { runtime, cookie in
            let loop = EmbeddedEventLoop()
            let uri = "/.portcullis/verify"
            let headers = HTTPHeaders([
                ("Host", "gateway.example"), ("Cookie", cookie), ("X-Forwarded-Method", "GET"), ("X-Forwarded-Host", "app.example"),
                ("X-Forwarded-Uri", "/report"),
            ])
            let request = EndpointRequest(
                name: "verify", head: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers),
                target: try RequestTarget.parse(uri).get(), peer: "127.0.0.1", eventLoop: loop, assertions: AssertionCache())
            guard case .page(let page) = ForwardAuth.verify(request, runtime: runtime) else {
                Issue.record("forward-auth did not refuse with a page")
                return
            }
            #expect(page.status == .serviceUnavailable)
            #expect(audit.lines.contains { $0.contains("access.assertion_unavailable") && $0.contains("forward-auth") })
        }
    }
}
