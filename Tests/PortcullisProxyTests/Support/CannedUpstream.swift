import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortcullisTestSupport

/// An upstream that answers every request head (bodyless requests only) with fixed bytes,
/// for response framings the echo upstream never produces (chunked, close-delimited).
final class CannedUpstream: Sendable {
    let channel: Channel
    var port: Int { channel.localAddress!.port! }

    /// `response` is sent as is for each request; with `closeAfter` the connection closes
    /// after it (a body delimited by the close).
    static func start(response: String, closeAfter: Bool = false) async throws -> CannedUpstream {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(response: response, closeAfter: closeAfter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return CannedUpstream(channel: channel)
    }

    /// Starts one, runs `body` with it and closes it whatever `body` does.
    static func with<T>(response: String, closeAfter: Bool = false, _ body: (CannedUpstream) async throws -> T) async throws -> T {
        try await scoped(try await start(response: response, closeAfter: closeAfter), stop: { await $0.close() }, body)
    }

    private init(channel: Channel) { self.channel = channel }

    func close() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let response: String
        let closeAfter: Bool
        var received = ""

        init(response: String, closeAfter: Bool) {
            self.response = response
            self.closeAfter = closeAfter
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            while let end = received.range(of: "\r\n\r\n") {
                received.removeSubrange(..<end.upperBound)
                let written = context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)))
                if closeAfter { written.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
            }
        }
    }
}
