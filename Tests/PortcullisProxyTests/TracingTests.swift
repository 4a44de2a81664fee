import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore
import PortcullisEcho
import PortcullisTelemetry
import PortcullisTestSupport
import ServiceLifecycle
import Testing

/// OpenTelemetry tracing with the real swift-otel exporter (OTLP over HTTP) sending to a
/// minimal collector: the upstream gets the gateway's span as `traceparent`, in the client's
/// trace, and the span reaches the collector. Off, the client's context passes untouched.
@Suite("Tracing (live)")
struct TracingTests {
    /// Receives OTLP/HTTP exports: keeps each POST's path and body, answers 200 with an
    /// empty (valid) protobuf response.
    final class Collector: Sendable {
        let channel: Channel
        let received = NIOLockedValueBox<[(path: String, body: [UInt8])]>([])
        var port: Int { channel.localAddress!.port! }

        init() async throws {
            let received = self.received
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(Handler(received: received))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func close() async { try? await channel.close() }

        final class Handler: ChannelInboundHandler {
            typealias InboundIn = HTTPServerRequestPart
            typealias OutboundOut = HTTPServerResponsePart
            let received: NIOLockedValueBox<[(path: String, body: [UInt8])]>
            var path = ""
            var body: [UInt8] = []

            init(received: NIOLockedValueBox<[(path: String, body: [UInt8])]>) { self.received = received }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                switch unwrapInboundIn(data) {
                case .head(let head):
                    path = head.uri
                    body = []
                case .body(let buffer):
                    body += buffer.readableBytesView
                case .end:
                    let entry = (path, body)
                    received.withLockedValue { $0.append(entry) }
                    var headers = HTTPHeaders([("Content-Type", "application/x-protobuf"), ("Content-Length", "0")])
                    headers.add(name: "Connection", value: "keep-alive")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            }
        }
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test("on: the upstream gets the gateway's span in the client's trace (one traceparent), and the span is exported over OTLP/HTTP")
    func tracingOn() async throws {
        let collector = try await Collector()
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let json = """
            { "listen": { "port": 0 }, "logging": { "accessLog": false },
              "tracing": { "enabled": true, "endpoint": "http://127.0.0.1:\(collector.port)/v1/traces", "serviceName": "portcullis-test", "exportInterval": 0.1 },
              "routes": [{ "name": "traced", "upstream": "http://127.0.0.1:\(echo.port)", "public": true }] }
            """
        let config = try GatewayConfig.load(Data(json.utf8))
        var logger = Logger(label: "otel")
        logger.logLevel = .warning
        let tracing = try #require(try Telemetry.tracer(for: config.tracing, logger: logger))
        let exporter = Task { try await tracing.exporter.run() }
        let live = try await LiveGateway.start(config, tracer: tracing.tracer)
        let traceID = "0af7651916cd43dd8448eb211c80319c", parentSpan = "b7ad6b7169203331"
        try await scoped((), stop: { _ in
            await live.stop()
            exporter.cancel()
            await echo.close()
            await collector.close()
        }) { _ in
            let answer = try await TestHTTPClient.with(port: live.port) { client in
                try await client.send("/x", headers: [("traceparent", "00-\(traceID)-\(parentSpan)-01"), ("tracestate", "vendor=1")])
            }
            #expect(answer.status == 200)
            let sent = try answer.echoedHeaders().filter { $0.0.lowercased() == "traceparent" }.map(\.1)
            #expect(sent.count == 1, "\(sent)")
            let parts = sent.first?.split(separator: "-").map(String.init) ?? []
            #expect(parts.count == 4 && parts[1] == traceID, "the upstream's context is not in the client's trace: \(sent)")
            #expect(parts.count == 4 && parts[2] != parentSpan, "the upstream got the client's span, not the gateway's")

            // A request without a context starts a trace of its own.
            let fresh = try await TestHTTPClient.with(port: live.port) { try await $0.send("/y") }
            #expect(try fresh.echoedHeader("traceparent")?.hasPrefix("00-") == true)

            // The span reaches the collector: its trace id and name are in an export's body.
            let traceBytes = Self.hexBytes(traceID), name = Array("GET traced".utf8)
            var exported = false
            for _ in 0..<100 where !exported {
                exported = collector.received.withLockedValue { requests in
                    requests.contains { $0.path == "/v1/traces" && $0.body.contains(traceBytes) && $0.body.contains(name) }
                }
                if !exported { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(exported, "no OTLP export with the span arrived in 10 s (\(collector.received.withLockedValue { $0.count }) requests)")
        }
    }

    @Test("off (the default): no span, and the client's trace context passes to the upstream unchanged")
    func tracingOff() async throws {
        try await TestGateway.with { gateway in
            #expect(gateway.gateway.config.tracing.enabled == false)
            let answer = try await TestHTTPClient.with(port: gateway.port) { client in
                try await client.send("/x", headers: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
            }
            #expect(try answer.echoedHeader("traceparent") == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        }
    }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] && Array(self[start..<(start + needle.count)]) == needle {
            return true
        }
        return false
    }
}
