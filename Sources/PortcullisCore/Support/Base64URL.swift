/// Unpadded base64url (RFC 4648 §5): JWT segments, JWK members, PKCE values, sealed
/// cookies. Table-driven and Foundation-free, because the session cookie is decoded on
/// every authenticated request.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= input.count {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(group >> UInt32(shift) & 63)]) }
            index += 3
        }
        switch input.count - index {
        case 1:
            let group = UInt32(input[index]) << 16
            out += [alphabet[Int(group >> 18 & 63)], alphabet[Int(group >> 12 & 63)]]
        case 2:
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            out += [alphabet[Int(group >> 18 & 63)], alphabet[Int(group >> 12 & 63)], alphabet[Int(group >> 6 & 63)]]
        default: break
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode(_ text: String) -> String { encode(text.utf8) }

    /// Nil for anything but canonical unpadded base64url (no padding, no other characters,
    /// unused trailing bits zero), so each byte string has exactly one accepted spelling.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return decoded }
        return Array(text.utf8).withUnsafeBufferPointer { decode(bytes: $0) }
    }

    /// ``decode(_:)`` of text given as its UTF-8 bytes.
    public static func decode(bytes text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = text.count
        guard count % 4 != 1 else { return nil }
        return values.withUnsafeBufferPointer { values in
            var out: [UInt8] = []
            out.reserveCapacity(count * 3 / 4)
            var buffer: UInt32 = 0
            var bits: UInt32 = 0
            for byte in text {
                let value = values[Int(byte)]
                guard value != 0xFF else { return nil }
                buffer = buffer << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(UInt8(truncatingIfNeeded: buffer >> bits))
                    buffer &= (1 << bits) - 1
                }
            }
            return buffer == 0 ? out : nil
        }
    }
}
