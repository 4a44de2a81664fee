import NIOCore
import Testing

@testable import PortcullisProxy

@Suite("Head writer")
struct HeadWriterTests {
    static func written(_ body: (inout ByteWriter) -> Void) -> String {
        var buffer = ByteBuffer()
        buffer.writeBytes(capacity: 64, body)
        return String(buffer: buffer)
    }

    @Test("decimals, padded and not")
    func decimals() {
        #expect(Self.written { $0.appendDecimal(0) } == "0")
        #expect(Self.written { $0.appendDecimal(7, width: 3) } == "007")
        #expect(Self.written { $0.appendDecimal(1234, width: 3) } == "1234")
        #expect(Self.written { $0.appendDecimal(Int.max) } == String(Int.max))
        #expect(Self.written { $0.appendMillis(.nanoseconds(1_249_999)) } == "1.2")
        #expect(Self.written { $0.appendMillis(.nanoseconds(1_250_000)) } == "1.3")
        #expect(Self.written { $0.appendMillis(.nanoseconds(0)) } == "0.0")
    }

    @Test("fields and status lines")
    func lines() {
        #expect(Self.written { $0.appendField("X-A", "b") } == "X-A: b\r\n")
        #expect(Self.written { $0.appendStatusLine(version: .http1_0, status: .notFound) } == "HTTP/1.0 404 Not Found\r\n")
        #expect(Self.written { $0.appendStatusLine(version: .http1_1, status: .init(statusCode: 599)) } == "HTTP/1.1 599 \r\n")
    }
}
