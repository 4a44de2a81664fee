import Foundation

/// Unpadded base64url (RFC 7515 §2), the encoding of every JWT part, JWK member and PKCE challenge.
enum Base64URL {
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func encode(_ string: String) -> String { encode(Array(string.utf8)) }

    /// `nil` for anything that is not canonical-enough base64url (padding is tolerated).
    static func decode(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 = base64.replacingOccurrences(of: "=", with: "")
        guard !base64.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/")) }) else {
            return nil
        }
        let remainder = base64.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 { base64 += String(repeating: "=", count: 4 - remainder) }
        return Data(base64Encoded: base64)
    }

    /// Random bytes as base64url: codes, tokens, token ids.
    static func random(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
