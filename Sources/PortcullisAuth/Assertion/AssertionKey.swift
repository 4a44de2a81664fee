import Crypto
import PortcullisCore

/// One P-256 key of the assertion key set, with its public JWK members precomputed.
///
/// Its description shows only the `kid`, so logging a key (or the set) cannot leak it.
public struct AssertionKey: Sendable, CustomStringConvertible {
    /// The RFC 7638 JWK thumbprint: stable for the key wherever it is published, and the
    /// same a JOSE library computes, so an operator can match keys across systems.
    public let kid: String
    /// The public point's coordinates, base64url (the JWK `x` and `y`).
    public let x: String
    public let y: String
    let privateKey: P256.Signing.PrivateKey

    init(_ privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
        // x9.63 form: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let point = Array(privateKey.publicKey.x963Representation)
        x = Base64URL.encode(point[1..<33])
        y = Base64URL.encode(point[33..<65])
        kid = Self.thumbprint(x: x, y: y)
    }

    /// RFC 7638 §3: SHA-256 of the required members in lexicographic order, no whitespace.
    /// x and y are base64url, so they need no JSON escaping.
    static func thumbprint(x: String, y: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#.utf8)))
    }

    /// The public JWK as served in the JWKS. Every value is base64url or a constant, so
    /// plain interpolation is valid JSON.
    public var publicJWK: String {
        #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(kid)","use":"sig","alg":"ES256"}"#
    }

    public var description: String { "AssertionKey(kid: \(kid))" }
}
