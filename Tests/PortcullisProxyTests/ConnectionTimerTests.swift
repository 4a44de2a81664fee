import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PortcullisCore
import Testing

@testable import PortcullisProxy

/// The client connection's timers on an `EmbeddedEventLoop`: time is moved by the test, so
/// deadlines are checked to the second with no wall-clock waits or load margins.
@Suite("Client connection timers (EmbeddedChannel)")
struct ConnectionTimerTests {
    static let config = #"""
        { "routes": [{ "name": "a", "upstream": "http://127.0.0.1:1", "public": true }],
          "limits": { "requestHeadTimeout": 10, "clientIdleTimeout": 75 } }
        """#

    /// NIO's request decoder and the gateway's handler on an embedded, connected channel.
    static func connection() throws -> (EmbeddedChannel, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let runtime = TestRuntime.make(config)
        let gatewayLoop = GatewayLoop(pool: UpstreamPool(eventLoop: loop, maxIdlePerUpstream: 1, idleTimeout: .seconds(60)), runtime: runtime)
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try channel.pipeline.syncOperations.addHandler(
            ClientConnectionHandler(loop: gatewayLoop, threadPool: .singleton, accessLog: nil, logger: Logger(label: "test")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        return (channel, loop)
    }

    static func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test("a head trickled byte by byte is cut off 10 s after its first byte, with 408")
    func slowloris() throws {
        let (channel, loop) = try Self.connection()
        try Self.send(channel, "GET / HTTP/1.1\r\nHo")
        for _ in 0..<9 {
            loop.advanceTime(by: .seconds(1))
            try Self.send(channel, "x")  // each byte arrives well within any idle timeout
        }
        #expect(channel.isActive)
        #expect(try Self.written(channel).isEmpty)
        loop.advanceTime(by: .milliseconds(1_001))
        let answer = try Self.written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(answer.contains("Connection: close"))
        #expect(!channel.isActive)
    }

    @Test("a connection that sends nothing is closed at clientIdleTimeout, not at the head deadline")
    func idle() throws {
        let (channel, loop) = try Self.connection()
        loop.advanceTime(by: .seconds(74))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        #expect(try Self.written(channel).isEmpty)
    }

    @Test("after an answered request the idle clock runs, not the head deadline; a new head starts it")
    func afterResponse() throws {
        let (channel, loop) = try Self.connection()
        try Self.send(channel, "GET /.portcullis/healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try Self.written(channel).hasPrefix("HTTP/1.1 200"))
        loop.advanceTime(by: .seconds(30))
        #expect(channel.isActive)
        try Self.send(channel, "GET /.portcullis/healthz HTTP/1.1\r\n")
        loop.advanceTime(by: .seconds(11))
        #expect(try Self.written(channel).hasPrefix("HTTP/1.1 408"))
        #expect(!channel.isActive)
    }

    @Test("a complete head in time is answered however slowly it came")
    func slowButInTime() throws {
        let (channel, loop) = try Self.connection()
        for piece in ["GET /.portcullis/healthz HTTP/1.1\r\n", "Host: a\r\n", "\r\n"] {
            try Self.send(channel, piece)
            loop.advanceTime(by: .seconds(3))
        }
        #expect(try Self.written(channel).hasPrefix("HTTP/1.1 200"))
        #expect(channel.isActive)
    }

    @Test("draining closes an idle keep-alive connection at once")
    func drainIdle() throws {
        let (channel, _) = try Self.connection()
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
    }

    @Test("draining lets a request being answered finish, with Connection: close")
    func drainBusy() throws {
        let (channel, _) = try Self.connection()
        try Self.send(channel, "GET /.portcullis/healthz HTTP/1.1\r\nHost: a\r\n")
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive)
        try Self.send(channel, "\r\n")
        let answer = try Self.written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        #expect(answer.contains("Connection: close"))
        #expect(!channel.isActive)
    }
}
