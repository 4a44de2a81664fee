import Foundation
import Testing

@Suite("WebSocket pass-through (live)")
struct WebSocketProxyTests {
    /// A masked client text frame (RFC 6455 §5.2), payload under 126 bytes.
    static func textFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    @Test("after the upstream's 101, frames flow both ways through the gateway")
    func echoThroughGateway() async throws {
        try await TestGateway.with { gateway in
            let handshake = """
                GET /.echo/ws HTTP/1.1\r
                Host: gateway.test\r
                Upgrade: websocket\r
                Connection: Upgrade\r
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
                Sec-WebSocket-Version: 13\r
                X-Forwarded-User: mallory\r
                \r

                """
            let socket = try BlockingSocket(port: gateway.port)
            defer { socket.close() }
            try socket.send(Array(handshake.utf8))
            let head = try socket.receive(until: { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") })
            let text = String(decoding: head, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 101"), "\(text)")
            #expect(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "the upstream's accept key reaches the client")

            for message in ["hello", "second message"] {
                try socket.send(Self.textFrame(message))
                let reply = try socket.receive(until: { $0.count >= 2 + message.utf8.count })
                #expect(reply[0] == 0x81)
                #expect(Int(reply[1]) == message.utf8.count)
                #expect(String(decoding: reply[2...], as: UTF8.self) == message)
            }
        }
    }
}

/// A minimal blocking TCP client for byte-exact protocol tests.
final class BlockingSocket {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard sent > 0 else { throw POSIXError(.EPIPE) }
            offset += sent
        }
    }

    /// Reads until `done` holds for what has arrived since the last call, then returns it.
    func receive(until done: ([UInt8]) -> Bool) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !done(buffer) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw POSIXError(.ETIMEDOUT) }
            buffer.append(contentsOf: chunk[..<count])
        }
        defer { buffer.removeAll() }
        return buffer
    }

    /// What has arrived without waiting; nil once the peer closed and nothing is left.
    func receiveAvailable() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if count > 0 { return Array(chunk[..<count]) }
        return count == 0 ? nil : []
    }

    func close() { Glibc.close(fd) }
}
