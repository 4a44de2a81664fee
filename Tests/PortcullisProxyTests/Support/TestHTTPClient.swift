import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisTestSupport

/// A response as a test sees it; the body is kept only when asked for (large transfers are
/// only counted, so the test's own memory stays flat).
struct TestResponse {
    var head: HTTPResponseHead
    var body: ByteBuffer
    var bodyBytes: Int

    var status: UInt { head.status.code }
    var text: String { String(buffer: body) }

    /// The echo upstream's view of the request: its headers as (name, value) pairs.
    func echoedHeaders() throws -> [(String, String)] {
        struct Echo: Decodable { var headers: [[String]] }
        return try JSONDecoder().decode(Echo.self, from: Data(text.utf8)).headers.map { ($0[0], $0[1]) }
    }

    /// The request target the upstream received.
    func echoedURI() throws -> String {
        struct Echo: Decodable { var uri: String }
        return try JSONDecoder().decode(Echo.self, from: Data(text.utf8)).uri
    }

    func echoedHeader(_ name: String) throws -> String? {
        try echoedHeaders().first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func echoedBodyBytes() throws -> Int {
        struct Echo: Decodable { var bodyBytes: Int }
        return try JSONDecoder().decode(Echo.self, from: Data(text.utf8)).bodyBytes
    }
}

/// A plain HTTP/1.1 client over one connection, with no redirect following or header
/// rewriting, so tests see exactly what the gateway sends.
final class TestHTTPClient: Sendable {
    let channel: Channel
    private let collector: ResponseCollector

    static func connect(port: Int, keepBody: Bool = true) async throws -> TestHTTPClient {
        let collector = ResponseCollector(keepBody: keepBody)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return TestHTTPClient(channel: channel, collector: collector)
    }

    /// Connects, runs `body` with the connection and closes it whatever `body` does.
    static func with<T>(port: Int, keepBody: Bool = true, _ body: (TestHTTPClient) async throws -> T) async throws -> T {
        try await scoped(try await connect(port: port, keepBody: keepBody), stop: { await $0.close() }, body)
    }

    private init(channel: Channel, collector: ResponseCollector) {
        self.channel = channel
        self.collector = collector
    }

    /// Sends one request and waits for the whole response.
    func send(
        _ uri: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestResponse {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
        if !head.headers.contains(name: "host") { head.headers.add(name: "Host", value: "gateway.test") }
        if let body { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.utf8.count)) }
        let response = collector.expectResponse(on: channel.eventLoop)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return try await response.get()
    }

    /// Waits for the next response on this connection, for tests that write parts by hand.
    func expectResponse() -> EventLoopFuture<TestResponse> {
        collector.expectResponse(on: channel.eventLoop)
    }

    /// Sends `bytes` of body as a stream, writing only while the connection is writable.
    func upload(_ uri: String, bytes: Int) async throws -> TestResponse {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri)
        head.headers.add(name: "Host", value: "gateway.test")
        head.headers.add(name: "Content-Length", value: String(bytes))
        head.headers.add(name: "Content-Type", value: "application/octet-stream")
        let response = collector.expectResponse(on: channel.eventLoop)
        try await channel.writeAndFlush(HTTPClientRequestPart.head(head)).get()
        let chunk = ByteBuffer(repeating: 0x61, count: 256 * 1024)
        var remaining = bytes
        while remaining > 0 {
            let size = min(remaining, chunk.readableBytes)
            remaining -= size
            // Waiting for each write to reach the socket bounds what this client buffers.
            try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!))).get()
        }
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return try await response.get()
    }

    func close() async {
        try? await channel.close()
    }

    /// Sends raw bytes on a new connection and returns everything read until the server
    /// closes or `timeout` passes.
    static func raw(port: Int, _ request: String, timeout: TimeAmount = .seconds(5)) async throws -> String {
        let sink = RawSink()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(sink) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        deadline.cancel()
        return sink.text
    }
}

/// Collects one response at a time.
final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private let keepBody: Bool
    private var promise: EventLoopPromise<TestResponse>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var bodyBytes = 0

    init(keepBody: Bool) { self.keepBody = keepBody }

    /// Set once the connection is gone: a response expected after that fails at once
    /// instead of leaving its promise unfulfilled.
    private var closed = false

    func expectResponse(on loop: EventLoop) -> EventLoopFuture<TestResponse> {
        let promise = loop.makePromise(of: TestResponse.self)
        loop.execute {
            self.promise?.fail(ChannelError.inappropriateOperationForState)
            if self.closed {
                promise.fail(ChannelError.ioOnClosedChannel)
                self.promise = nil
                return
            }
            self.promise = promise
            self.head = nil
            self.body = ByteBuffer()
            self.bodyBytes = 0
        }
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body(var buffer):
            bodyBytes += buffer.readableBytes
            if keepBody { body.writeBuffer(&buffer) }
        case .end:
            if let head {
                promise?.succeed(TestResponse(head: head, body: body, bodyBytes: bodyBytes))
            } else {
                promise?.fail(ChannelError.inappropriateOperationForState)
            }
            promise = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        promise?.fail(ChannelError.ioOnClosedChannel)
        promise = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }
}

/// Gathers raw bytes.
final class RawSink: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let received = NIOLockedValueBox(ByteBuffer())

    var text: String { received.withLockedValue { String(buffer: $0) } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received.withLockedValue { _ = $0.writeBuffer(&buffer) }
    }
}
