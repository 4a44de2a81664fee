import NIOCore

/// Relays raw bytes between two channels after a protocol upgrade (WebSocket): what one side
/// reads the other writes, with the same backpressure as the HTTP path (a side stops reading
/// while its partner cannot write), and closing one side closes the other.
final class ByteRelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var partner: ByteRelayHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false

    /// Links two relays; both channels must be on the same event loop.
    static func pair() -> (ByteRelayHandler, ByteRelayHandler) {
        let a = ByteRelayHandler(), b = ByteRelayHandler()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func send(_ buffer: ByteBuffer) { context?.write(wrapOutboundOut(buffer), promise: nil) }
    private func flushOut() { context?.flush() }
    private func closeOut() { context?.close(promise: nil) }

    private func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.send(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.flushOut()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, !partner.isWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let partner = self.partner
        self.partner = nil
        partner?.partner = nil
        partner?.flushOut()
        partner?.closeOut()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
