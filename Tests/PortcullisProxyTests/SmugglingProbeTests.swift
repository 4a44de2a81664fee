import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortcullisCore
import Testing

/// Requests that two HTTP/1.1 parsers could read differently, sent through the gateway to an
/// upstream that records the bytes it gets. Each is either refused (400) or reaches the upstream
/// as exactly one request whose body is framed, so the smuggled request inside it (with a
/// forged identity header) stays body and is never read as a request of its own.
@Suite("Request smuggling probes (live)")
struct SmugglingProbeTests {
    /// An upstream that keeps every byte each connection sent, answering `ok` to the first head.
    final class RecordingUpstream: Sendable {
        let channel: Channel
        let bytes = NIOLockedValueBox<[UInt8]>([])
        var port: Int { channel.localAddress!.port! }

        init() async throws {
            let bytes = self.bytes
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Recorder(bytes: bytes)) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func close() async { try? await channel.close() }

        final class Recorder: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            let bytes: NIOLockedValueBox<[UInt8]>
            var seen: [UInt8] = []
            var answered = false
            init(bytes: NIOLockedValueBox<[UInt8]>) { self.bytes = bytes }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let chunk = Array(unwrapInboundIn(data).readableBytesView)
                seen += chunk
                bytes.withLockedValue { $0 += chunk }
                if !answered, String(decoding: seen, as: UTF8.self).contains("\r\n\r\n") {
                    answered = true
                    context.writeAndFlush(NIOAny(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), promise: nil)
                }
            }
        }
    }

    /// How many requests an HTTP/1.1 server reads from `text` (Content-Length or chunked
    /// framing), and whether bytes are left over.
    static func requests(in text: String) -> (count: Int, leftover: Bool) {
        var rest = Substring(text)
        var count = 0
        while let headEnd = rest.range(of: "\r\n\r\n") {
            count += 1
            let lines = rest[..<headEnd.lowerBound].components(separatedBy: "\r\n").dropFirst()
            rest = rest[headEnd.upperBound...]
            var fields: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased().trimmingCharacters(in: .whitespaces)] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            if fields["transfer-encoding"]?.lowercased().hasSuffix("chunked") == true {
                while let lineEnd = rest.range(of: "\r\n") {
                    let size = Int(rest[..<lineEnd.lowerBound].split(separator: ";").first ?? "", radix: 16) ?? 0
                    rest = rest[lineEnd.upperBound...]
                    if size == 0 {
                        rest = rest.dropFirst(2)  // no trailers: the final CRLF
                        break
                    }
                    rest = rest.dropFirst(size + 2)
                }
            } else if let length = fields["content-length"].flatMap({ Int($0) }) {
                rest = rest.dropFirst(length)
            }
        }
        return (count, !rest.isEmpty)
    }

    static let inner = "GET /smuggled HTTP/1.1\r\nHost: probe.test\r\nX-Forwarded-User: mallory\r\n\r\n"
    static func chunked(_ body: String) -> String { String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n" }

    static let probes: [(String, String)] = [
        ("GET with a body", "GET / HTTP/1.1\r\nHost: probe.test\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("HEAD with a body", "HEAD / HTTP/1.1\r\nHost: probe.test\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("OPTIONS with a body", "OPTIONS / HTTP/1.1\r\nHost: probe.test\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("DELETE chunked", "DELETE / HTTP/1.1\r\nHost: probe.test\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(inner))"),
        ("HTTP/1.0 chunked", "POST / HTTP/1.0\r\nHost: probe.test\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(inner))"),
        ("Transfer-Encoding after a tab", "POST / HTTP/1.1\r\nHost: probe.test\r\nTransfer-Encoding:\tchunked\r\n\r\n\(chunked(inner))"),
        ("Connection names Transfer-Encoding", "POST / HTTP/1.1\r\nHost: probe.test\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(inner))"),
        ("Connection names Content-Length", "POST / HTTP/1.1\r\nHost: probe.test\r\nConnection: keep-alive,CONTENT-LENGTH \r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("chunk extension", "POST / HTTP/1.1\r\nHost: probe.test\r\nTransfer-Encoding: chunked\r\n\r\n\(String(inner.utf8.count, radix: 16));ext=1\r\n\(inner)\r\n0\r\n\r\n"),
        ("a WebSocket upgrade with a body", "GET / HTTP/1.1\r\nHost: probe.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("an h2c upgrade with a body", "POST / HTTP/1.1\r\nHost: probe.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("TRACE with a body", "TRACE / HTTP/1.1\r\nHost: probe.test\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: probe.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(inner))"),
        ("Transfer-Encoding not ending in chunked", "POST / HTTP/1.1\r\nHost: probe.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n\(chunked(inner))"),
        ("two Content-Lengths", "POST / HTTP/1.1\r\nHost: probe.test\r\nContent-Length: 0\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"),
        ("a space before the colon", "POST / HTTP/1.1\r\nHost: probe.test\r\nTransfer-Encoding : chunked\r\n\r\n\(chunked(inner))"),
    ]

    @Test("each probe is refused or reaches the upstream as one request with its body framed", arguments: probes)
    func probe(name: String, request: String) async throws {
        let upstream = try await RecordingUpstream()
        let config = try GatewayConfig.load(Data("""
            { "listen": { "port": 0 }, "logging": { "accessLog": false },
              "routes": [{ "name": "probe", "upstream": "http://127.0.0.1:\(upstream.port)", "public": true }] }
            """.utf8))
        let live = try await LiveGateway.start(config)
        let answer = (try? await TestHTTPClient.raw(port: live.port, request, timeout: .seconds(2))) ?? ""
        // Whatever reached the upstream has arrived by the time the client has its answer;
        // a moment more for a body still on its way.
        try await Task.sleep(for: .milliseconds(200))
        await live.stop()
        await upstream.close()
        let received = String(decoding: upstream.bytes.withLockedValue { $0 }, as: UTF8.self)
        let (count, leftover) = Self.requests(in: received)
        #expect(count <= 1 && !leftover, "\(name): the upstream read \(count) requests (leftover \(leftover)): \(received)")
        #expect(!received.contains("X-Forwarded-User: mallory\r\n\r\n") || count == 1, "\(name)")
        if count == 0 { #expect(answer.hasPrefix("HTTP/1.1 400") || answer.hasPrefix("HTTP/1.1 502") || answer.isEmpty, "\(name): \(answer.prefix(60))") }
    }
}
