import NIOCore
import NIOHTTP1

/// Writes bytes into memory a `ByteBuffer` lent for one call (`ByteBuffer.writeBytes`).
///
/// NIO's encoders write every name, separator, value and line end of a head as a separate
/// `ByteBuffer` call, each with its own capacity and exclusivity checks. The gateway sizes a
/// head (or log line) first, reserves that once, and copies the pieces with plain stores.
struct ByteWriter {
    private let out: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(_ out: UnsafeMutableRawBufferPointer) {
        self.out = out
    }

    @inline(__always)
    private mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer {
        // The sizing pass is meant to make this impossible; if it is ever wrong, stop rather
        // than write past the buffer.
        precondition(count + length <= out.count, "ByteWriter overflow")
        defer { count += length }
        return out.baseAddress! + count
    }

    /// A string's UTF-8 bytes (literals go to `append(_: StaticString)`, which copies
    /// without looking at the string's representation).
    @inline(__always)
    mutating func appendText<Text: StringProtocol>(_ text: Text) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            if let base = bytes.baseAddress, bytes.count > 0 {
                reserve(bytes.count).copyMemory(from: base, byteCount: bytes.count)
            }
        }
        if copied == nil {
            for byte in text.utf8 { append(byte: byte) }
        }
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        reserve(1).storeBytes(of: byte, as: UInt8.self)
    }

    @inline(__always)
    mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count).copyMemory(from: base, byteCount: bytes.count)
    }

    /// `name: value` and a line end.
    @inline(__always)
    mutating func appendField<Name: StringProtocol, Value: StringProtocol>(_ name: Name, _ value: Value) {
        appendText(name)
        append(": ")
        appendText(value)
        append("\r\n")
    }

    /// A non-negative integer in decimal, zero-padded to at least `width` (at most 20) digits.
    mutating func appendDecimal(_ value: Int, width: Int = 1) {
        // Digits are produced last first into a small stack buffer, then copied.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = max(0, value)
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            while buffer.count - start < min(width, buffer.count) {
                start -= 1
                buffer[start] = UInt8(ascii: "0")
            }
            append(bytes: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// `HTTP/1.x code reason` and a line end.
    mutating func appendStatusLine(version: HTTPVersion, status: HTTPResponseStatus) {
        append(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        appendDecimal(Int(status.code))
        append(byte: UInt8(ascii: " "))
        appendText(status.reasonPhrase)
        append("\r\n")
    }

    /// The most a status line can take (`appendStatusLine`).
    static func statusLineSize(_ status: HTTPResponseStatus) -> Int { 16 + status.reasonPhrase.utf8.count }

    /// The size of a header field line.
    @inline(__always)
    static func fieldSize<Name: StringProtocol, Value: StringProtocol>(_ name: Name, _ value: Value) -> Int {
        name.utf8.count + value.utf8.count + 4
    }
}

extension ByteBuffer {
    /// Appends at most `capacity` bytes written by `body` in one go.
    @inline(__always)
    mutating func writeBytes(capacity: Int, _ body: (inout ByteWriter) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { out in
            var writer = ByteWriter(out)
            body(&writer)
            return writer.count
        }
    }

    /// Appends `name: value` and a line end (for the few heads not worth sizing first).
    mutating func writeHeaderField<Name: StringProtocol, Value: StringProtocol>(_ name: Name, _ value: Value) {
        writeBytes(capacity: ByteWriter.fieldSize(name, value)) { $0.appendField(name, value) }
    }

    /// Appends `HTTP/1.x code reason` and a line end.
    mutating func writeStatusLine(version: HTTPVersion, status: HTTPResponseStatus) {
        writeBytes(capacity: ByteWriter.statusLineSize(status)) { $0.appendStatusLine(version: version, status: status) }
    }

    /// Appends the line end that closes a head.
    mutating func writeHeadEnd() {
        writeInteger(UInt16(0x0D0A))
    }
}

/// Case-insensitive comparison of a received field name with a lowercase ASCII name, without
/// building a lowercased copy.
@inline(__always)
func fieldName<Name: StringProtocol>(_ name: Name, is lowercase: StaticString) -> Bool {
    guard name.utf8.count == lowercase.utf8CodeUnitCount else { return false }
    return name.utf8.withContiguousStorageIfAvailable { asciiLowercased($0, equals: lowercase) }
        ?? asciiLowercased(name.utf8, equals: lowercase)
}

/// `fieldName` for bytes (a field as received, before any string is made of it).
@inline(__always)
func fieldName(_ bytes: UnsafeRawBufferPointer, is lowercase: StaticString) -> Bool {
    bytes.count == lowercase.utf8CodeUnitCount && asciiLowercased(bytes, equals: lowercase)
}

@inline(__always)
private func asciiLowercased<Bytes: Collection<UInt8>>(_ bytes: Bytes, equals lowercase: StaticString) -> Bool {
    let expected = lowercase.utf8Start
    var index = 0
    for var byte in bytes {
        if byte &- UInt8(ascii: "A") < 26 { byte |= 0x20 }
        if byte != expected[index] { return false }
        index += 1
    }
    return true
}

/// Whether a `Connection` value is one of the everyday ones (`keep-alive`, `close`,
/// `upgrade`, any case) that name nothing beyond the fixed hop-by-hop fields: checked without
/// building a lowercased copy, since nearly every response carries one.
@inline(__always)
func isPlainConnectionValue(_ value: String) -> Bool {
    fieldName(value, is: "keep-alive") || fieldName(value, is: "close") || fieldName(value, is: "upgrade")
}
