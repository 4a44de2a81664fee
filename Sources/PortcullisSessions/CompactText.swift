/// Opaque token text (refresh tokens, logout hints) held in about three quarters of its
/// size. Such tokens are base64url characters with the odd `.`: those are packed six bits a
/// character (`_` and `.` as a two-code escape); any other text is kept as its UTF-8 bytes.
/// A 1,500-character Entra refresh token is the largest part of a session in memory, and is
/// read only when the session is revalidated or written to a store.
struct CompactText: Sendable, Equatable {
    /// `[0] = 0` then UTF-8; or `[0] = 1`, the character count (4 bytes, big-endian), then the
    /// six-bit codes, most significant bits first.
    private let storage: [UInt8]

    private static let raw: UInt8 = 0
    private static let packed: UInt8 = 1
    /// Codes 0-62 are these characters; 63 escapes: the next code 0 is `_`, 1 is `.`.
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-".utf8)
    private static let escape: UInt8 = 63
    private static let codes: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (code, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(code) }
        return table
    }()

    init(_ text: String) {
        let bytes = Array(text.utf8)
        storage = Self.pack(bytes) ?? [Self.raw] + bytes
    }

    var text: String {
        if storage[0] == Self.raw { return String(decoding: storage[1...], as: UTF8.self) }
        return String(decoding: Self.unpack(storage), as: UTF8.self)
    }

    /// Nil when a byte is not one the packed form has a code for.
    private static func pack(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count <= Int(UInt32.max) else { return nil }
        // Exactly the size needed: a growing array would double its capacity near the end.
        var codeCount = bytes.count
        for byte in bytes where byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") { codeCount += 1 }
        var out: [UInt8] = [packed]
        out.reserveCapacity(5 + (codeCount * 6 + 7) / 8)
        let count = UInt32(bytes.count)
        for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        var buffer: UInt32 = 0
        var bits: UInt32 = 0
        func put(_ code: UInt8) {
            buffer = buffer << 6 | UInt32(code)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> bits))
                buffer &= (1 << bits) - 1
            }
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "_"):
                put(escape)
                put(0)
            case UInt8(ascii: "."):
                put(escape)
                put(1)
            default:
                let code = codes[Int(byte)]
                guard code != 0xFF else { return nil }
                put(code)
            }
        }
        if bits > 0 { out.append(UInt8(truncatingIfNeeded: buffer << (8 - bits))) }
        return out
    }

    private static func unpack(_ storage: [UInt8]) -> [UInt8] {
        let count = Int(storage[1]) << 24 | Int(storage[2]) << 16 | Int(storage[3]) << 8 | Int(storage[4])
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var index = 5
        var buffer: UInt32 = 0
        var bits: UInt32 = 0
        var escaped = false
        while out.count < count {
            if bits < 6 {
                buffer = buffer << 8 | UInt32(storage[index])
                index += 1
                bits += 8
            }
            bits -= 6
            let code = UInt8(truncatingIfNeeded: buffer >> bits) & 63
            buffer &= (1 << bits) - 1
            if escaped {
                out.append(code == 0 ? UInt8(ascii: "_") : UInt8(ascii: "."))
                escaped = false
            } else if code == escape {
                escaped = true
            } else {
                out.append(alphabet[Int(code)])
            }
        }
        return out
    }
}
