import PortcullisCore

extension Base64URL {
    /// Random bytes as base64url: codes, tokens, token ids.
    static func random(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
