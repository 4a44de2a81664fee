import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PortcullisCore
import PortcullisEcho
import PortcullisTestSupport
import SwiftASN1
import Testing
import X509

/// TLS at the edge: the listener terminates TLS with the configured certificate, says so
/// upstream (`X-Forwarded-Proto: https`), and a renewal applied by reload serves new
/// connections without dropping open ones. curl verifies against the test certificate.
@Suite("TLS listener (live)", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") || ExternalTools.isCI))
struct TLSListenerTests {
    /// A self-signed certificate for 127.0.0.1 and its key, as PEM.
    static func certificate(_ name: String, days: Double = 30) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(days * 86_400), issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    static func curl(_ url: String, caFile: String) async throws -> (status: Int32, output: String, error: String) {
        try await ExternalTools.runDetached(["curl", "-sS", "--http1.1", "--cacert", caFile, url])
    }

    @Test("HTTPS with the configured certificate, X-Forwarded-Proto https; a renewed certificate by reload, an open connection kept; a broken one refused")
    func tls() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (certFile, keyFile) = (folder.appendingPathComponent("tls.crt"), folder.appendingPathComponent("tls.key"))
        let first = try Self.certificate("portcullis-first"), second = try Self.certificate("portcullis-second")
        let (firstCA, secondCA) = (folder.appendingPathComponent("first.pem").path, folder.appendingPathComponent("second.pem").path)
        try first.certificate.write(toFile: firstCA, atomically: true, encoding: .utf8)
        try second.certificate.write(toFile: secondCA, atomically: true, encoding: .utf8)
        try first.certificate.write(to: certFile, atomically: true, encoding: .utf8)
        try first.key.write(to: keyFile, atomically: true, encoding: .utf8)

        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let configFile = folder.appendingPathComponent("config.json")
        try """
            { "listen": { "port": 0, "tls": { "certificateFile": "tls.crt", "keyFile": "tls.key" } }, "logging": { "accessLog": false },
              "routes": [{ "name": "app", "upstream": "http://127.0.0.1:\(echo.port)", "public": true }] }
            """.write(to: configFile, atomically: true, encoding: .utf8)
        let live = try await LiveGateway.start(try GatewayConfig.load(file: configFile.path))
        let base = "https://127.0.0.1:\(live.port)"
        try await scoped((), stop: { _ in
            await live.stop()
            await echo.close()
        }) { _ in
            let answer = try await Self.curl(base + "/x", caFile: firstCA)
            #expect(answer.status == 0, "\(answer.error)")
            #expect(answer.output.contains(#"["X-Forwarded-Proto","https"]"#), "\(answer.output.prefix(400))")
            // The wrong CA is refused by the client: the listener serves the first certificate.
            #expect(try await Self.curl(base + "/x", caFile: secondCA).status != 0)

            // A slow request on a connection opened with the first certificate, across the reload.
            let open = Task { try await Self.curl(base + "/.echo/slow?ms=1500", caFile: firstCA) }
            try await Task.sleep(for: .milliseconds(400))
            try second.certificate.write(to: certFile, atomically: true, encoding: .utf8)
            try second.key.write(to: keyFile, atomically: true, encoding: .utf8)
            let outcome = try await live.gateway.reload(try GatewayConfig.load(file: configFile.path))
            #expect(outcome.needsRestart.isEmpty, "a renewal at the same paths is no listener change: \(outcome.needsRestart)")
            #expect(try await Self.curl(base + "/y", caFile: secondCA).status == 0)
            #expect(try await Self.curl(base + "/y", caFile: firstCA).status != 0)
            let kept = try await open.value
            #expect(kept.status == 0, "the open connection was dropped: \(kept.error)")

            // A broken certificate is refused by reload; the renewed one keeps serving.
            try "not a certificate".write(to: certFile, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self) { try GatewayConfig.load(file: configFile.path) }
            #expect(try await Self.curl(base + "/z", caFile: secondCA).status == 0)
        }
    }

    @Test("an https upstream: verified against its caFile (the IP in its certificate checked), refused with a clean 502 under the wrong CA")
    func httpsUpstream() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-up-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let upstreamIdentity = try Self.certificate("portcullis-upstream"), stranger = try Self.certificate("someone-else")
        try upstreamIdentity.certificate.write(to: folder.appendingPathComponent("up.crt"), atomically: true, encoding: .utf8)
        try upstreamIdentity.key.write(to: folder.appendingPathComponent("up.key"), atomically: true, encoding: .utf8)
        try stranger.certificate.write(to: folder.appendingPathComponent("stranger.crt"), atomically: true, encoding: .utf8)

        // The HTTPS upstream: a gateway terminating TLS in front of the echo.
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let upstreamConfig = """
            { "listen": { "port": 0, "tls": { "certificateFile": "up.crt", "keyFile": "up.key" } }, "logging": { "accessLog": false },
              "routes": [{ "name": "echo", "upstream": "http://127.0.0.1:\(echo.port)", "public": true }] }
            """
        let upstream = try await LiveGateway.start(try GatewayConfig.load(Data(upstreamConfig.utf8), baseDirectory: folder))
        try await scoped((), stop: { _ in
            await upstream.stop()
            await echo.close()
        }) { _ in
            let front = """
                { "listen": { "port": 0 }, "logging": { "accessLog": false },
                  "routes": [
                    { "name": "trusted", "pathPrefix": "/trusted", "upstream": "https://127.0.0.1:\(upstream.port)", "public": true, "tls": { "caFile": "up.crt" } },
                    { "name": "wrong-ca", "pathPrefix": "/wrong", "upstream": "https://127.0.0.1:\(upstream.port)", "public": true, "tls": { "caFile": "stranger.crt" } } ] }
                """
            let gateway = try await LiveGateway.start(try GatewayConfig.load(Data(front.utf8), baseDirectory: folder))
            do {
                let trusted = try await TestHTTPClient.with(port: gateway.port) { client in try await client.send("/trusted/x") }
                #expect(trusted.status == 200, "\(trusted.text.prefix(300))")
                #expect(try trusted.echoedURI() == "/trusted/x")
                    let wrong = try await TestHTTPClient.with(port: gateway.port) { client in try await client.send("/wrong/x") }
                #expect(wrong.status == 502)
                #expect(wrong.text.contains("could not be reached"))
            } catch {
                await gateway.stop()
                throw error
            }
            await gateway.stop()
        }
    }

    /// An HTTPS upstream that demands a client certificate signed by `clientCA` and answers
    /// every request with `mtls-ok` and the subject it verified.
    static func mutualTLSUpstream(identity: (certificate: String, key: String), clientCA: String) async throws -> Channel {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificate.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.key.utf8), format: .pem)))
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCA.utf8)))
        let context = try NIOSSLContext(configuration: configuration)
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MutualTLSAnswer())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    final class MutualTLSAnswer: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let body = ByteBuffer(string: "mtls-ok")
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "\(body.readableBytes)"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    @Test("mTLS to an upstream: the route's client certificate is presented and accepted; without one the upstream refuses and the client gets a clean 502")
    func mutualTLSUpstreamRoute() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-mtls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try Self.certificate("mtls-upstream"), client = try Self.certificate("portcullis-client")
        try server.certificate.write(to: folder.appendingPathComponent("up.crt"), atomically: true, encoding: .utf8)
        try client.certificate.write(to: folder.appendingPathComponent("client.crt"), atomically: true, encoding: .utf8)
        try client.key.write(to: folder.appendingPathComponent("client.key"), atomically: true, encoding: .utf8)
        let upstream = try await Self.mutualTLSUpstream(identity: server, clientCA: client.certificate)
        let port = upstream.localAddress!.port!
        let json = """
            { "listen": { "port": 0 }, "logging": { "accessLog": false },
              "routes": [
                { "name": "mtls", "pathPrefix": "/mtls", "upstream": "https://127.0.0.1:\(port)", "public": true,
                  "tls": { "caFile": "up.crt", "certificateFile": "client.crt", "keyFile": "client.key" } },
                { "name": "no-cert", "pathPrefix": "/nocert", "upstream": "https://127.0.0.1:\(port)", "public": true, "tls": { "caFile": "up.crt" } } ] }
            """
        let gateway = try await LiveGateway.start(try GatewayConfig.load(Data(json.utf8), baseDirectory: folder))
        try await scoped((), stop: { _ in
            await gateway.stop()
            try? await upstream.close()
        }) { _ in
            let accepted = try await TestHTTPClient.with(port: gateway.port) { try await $0.send("/mtls/x") }
            #expect(accepted.status == 200, "\(accepted.text.prefix(300))")
            #expect(accepted.text == "mtls-ok")
            let refused = try await TestHTTPClient.with(port: gateway.port) { try await $0.send("/nocert/x") }
            #expect(refused.status == 502)
            #expect(refused.text.contains("could not be reached"))
        }
    }
}
