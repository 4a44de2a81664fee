import NIOCore
import NIOHTTP1

/// How a message body is delimited on one hop. NIO's decoders hand the gateway de-chunked
/// body bytes, and the gateway writes heads itself, so it frames bodies itself too, with the
/// rules NIO's encoders apply (Content-Length when the head has one, otherwise chunked where
/// a body is possible on HTTP/1.1, otherwise the bytes as they are).
enum BodyFraming {
    /// Body bytes as they are: a Content-Length body, or no body at all.
    case plain
    case chunked
    /// Body bytes as they are, ended by closing the connection (an HTTP/1.0 client).
    case untilClose

    /// The bytes to write for one body part, in order.
    @inline(__always)
    func frame(_ body: ByteBuffer, allocator: ByteBufferAllocator, write: (ByteBuffer) -> Void) {
        guard case .chunked = self, body.readableBytes > 0 else {
            write(body)
            return
        }
        // One small buffer holds both the size line and the CRLF after the data.
        var framing = allocator.buffer(capacity: 12)
        framing.writeChunkSize(body.readableBytes)
        write(framing.getSlice(at: framing.readerIndex, length: framing.readableBytes - 2)!)
        write(body)
        write(framing.getSlice(at: framing.writerIndex - 2, length: 2)!)
    }

    /// The bytes that end the body, if any (the last chunk and trailers when chunked; the
    /// trailers are dropped otherwise, as NIO's encoders do).
    func end(trailers: HTTPHeaders?, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard case .chunked = self else { return nil }
        guard let trailers, !trailers.isEmpty else { return Self.lastChunk }
        var buffer = allocator.buffer(capacity: 64)
        buffer.writeStaticString("0\r\n")
        for (name, value) in trailers { buffer.writeHeaderField(name, value) }
        buffer.writeHeadEnd()
        return buffer
    }

    private static let lastChunk = ByteBuffer(staticString: "0\r\n\r\n")
}

extension ByteBuffer {
    /// Appends a chunk-size line (hexadecimal, then a line end) followed by the CRLF that will
    /// close the chunk; the caller writes the two parts separately.
    fileprivate mutating func writeChunkSize(_ size: Int) {
        var digits = 1
        while size >> (4 * digits) > 0 { digits += 1 }
        writeWithUnsafeMutableBytes(minimumWritableBytes: digits + 4) { out in
            for index in 0..<digits {
                let nibble = UInt8((size >> (4 * (digits - 1 - index))) & 0xF)
                out[index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
            out[digits] = UInt8(ascii: "\r")
            out[digits + 1] = UInt8(ascii: "\n")
            out[digits + 2] = UInt8(ascii: "\r")
            out[digits + 3] = UInt8(ascii: "\n")
            return digits + 4
        }
    }
}
