import NIOCore
import NIOHTTP1

/// Writes HTTP/1.1 message heads straight into a `ByteBuffer`.
///
/// NIO's encoders take a finished `HTTPHeaders` value and write every name, separator, value
/// and line end as a separate bounds-checked call. The gateway walks every field anyway to
/// filter it, so it writes the kept ones as it goes, one copy per field, and never builds
/// an intermediate header list.
extension ByteBuffer {
    /// Appends `name: value` and a line end.
    mutating func writeHeaderField<Name: StringProtocol, Value: StringProtocol>(_ name: Name, _ value: Value) {
        let nameCount = name.utf8.count
        let valueCount = value.utf8.count
        writeWithUnsafeMutableBytes(minimumWritableBytes: nameCount + valueCount + 4) { out in
            var offset = out.copyUTF8(name, at: 0)
            out[offset] = UInt8(ascii: ":")
            out[offset + 1] = UInt8(ascii: " ")
            offset = out.copyUTF8(value, at: offset + 2)
            out[offset] = UInt8(ascii: "\r")
            out[offset + 1] = UInt8(ascii: "\n")
            return offset + 2
        }
    }

    /// Appends `HTTP/1.x code reason` and a line end.
    mutating func writeStatusLine(version: HTTPVersion, status: HTTPResponseStatus) {
        let reason = status.reasonPhrase
        writeWithUnsafeMutableBytes(minimumWritableBytes: 16 + reason.utf8.count) { out in
            var offset = out.copyUTF8(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ", at: 0)
            offset = out.copyDecimal(Int(status.code), at: offset)
            out[offset] = UInt8(ascii: " ")
            offset = out.copyUTF8(reason, at: offset + 1)
            out[offset] = UInt8(ascii: "\r")
            out[offset + 1] = UInt8(ascii: "\n")
            return offset + 2
        }
    }

    /// Appends `METHOD path[?query] HTTP/1.1` and a line end; `path` may come in two pieces
    /// (a route's upstream base path and the client's path).
    mutating func writeRequestLine(method: HTTPMethod, base: String, path: Substring, query: Substring?) {
        let methodName = method.rawValue
        let length = methodName.utf8.count + base.utf8.count + path.utf8.count + (query.map { $0.utf8.count + 1 } ?? 0) + 12
        writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
            var offset = out.copyUTF8(methodName, at: 0)
            out[offset] = UInt8(ascii: " ")
            offset = out.copyUTF8(base, at: offset + 1)
            offset = out.copyUTF8(path, at: offset)
            if let query {
                out[offset] = UInt8(ascii: "?")
                offset = out.copyUTF8(query, at: offset + 1)
            }
            return out.copyUTF8(" HTTP/1.1\r\n", at: offset)
        }
    }

    /// Appends the line end that closes a head.
    mutating func writeHeadEnd() {
        writeInteger(UInt16(0x0D0A))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Copies `text`'s UTF-8 bytes to `offset`; returns the offset after them.
    @inline(__always)
    func copyUTF8<Text: StringProtocol>(_ text: Text, at offset: Int) -> Int {
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Int in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
            (self.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count)
            return bytes.count
        }
        if let copied { return offset + copied }
        var index = offset
        for byte in text.utf8 {
            self[index] = byte
            index += 1
        }
        return index
    }

    /// Writes a non-negative integer in decimal at `offset`; returns the offset after it.
    @inline(__always)
    func copyDecimal(_ value: Int, at offset: Int) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var remaining = value
        for position in stride(from: offset + digits - 1, through: offset, by: -1) {
            self[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        return offset + digits
    }
}

/// Case-insensitive comparison of a received field name with a lowercase ASCII name, without
/// building a lowercased copy.
@inline(__always)
func fieldName<Name: StringProtocol>(_ name: Name, is lowercase: StaticString) -> Bool {
    let count = lowercase.utf8CodeUnitCount
    guard name.utf8.count == count else { return false }
    let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: count)
    var index = 0
    for byte in name.utf8 {
        let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
        if folded != expected[index] { return false }
        index += 1
    }
    return true
}
