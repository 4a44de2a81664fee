/// RFC 4648 base32 (the `A`–`Z`, `2`–`7` alphabet), the form authenticator apps show and
/// take TOTP secrets in.
///
/// In PortcullisCore rather than beside TOTP because the users file's `totpSecret` is
/// validated when the config is loaded, and the core depends on nothing.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Unpadded uppercase base32, as `otpauth://` URIs carry it.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits: UInt32 = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int(buffer >> bits & 31)])
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { out.append(alphabet[Int(buffer << (5 - bits) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, read the way people copy secrets: letters in either case, spaces
    /// (grouping) ignored, `=` padding optional. Nil for any other character, or for a length
    /// no byte string encodes to (1, 3 or 6 characters past a multiple of 8).
    public static func decode(_ text: String) -> [UInt8]? {
        var symbols = Array(text.utf8.filter { $0 != UInt8(ascii: " ") })
        while symbols.last == UInt8(ascii: "=") { symbols.removeLast() }
        guard ![1, 3, 6].contains(symbols.count % 8) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits: UInt32 = 0
        for symbol in symbols {
            guard let value = value(of: symbol) else { return nil }
            buffer = buffer << 5 | value
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> bits))
                buffer &= (1 << bits) - 1
            }
        }
        return out
    }

    private static func value(of symbol: UInt8) -> UInt32? {
        switch symbol {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(symbol - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(symbol - UInt8(ascii: "a"))
        case UInt8(ascii: "2")...UInt8(ascii: "7"): UInt32(symbol - UInt8(ascii: "2") + 26)
        default: nil
        }
    }
}
