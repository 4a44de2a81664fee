import Crypto
import CryptoExtras
import Foundation
import PortcullisCore

/// One RSA signing key and its public JWK.
///
/// ID tokens are signed by hand (RS256 = RSASSA-PKCS1-v1_5 with SHA-256) so the header is
/// exactly Entra's `{"alg","typ","kid"}` and the claims keep their order.
struct SigningKey: Sendable {
    let kid: String
    let privateKey: _RSA.Signing.PrivateKey

    /// A fresh 2048-bit key, the size Entra signs with.
    static func generate() throws -> SigningKey {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let modulus = try key.publicKey.getKeyPrimitives().modulus
        // Entra's kids are opaque base64url strings of this length; derive ours from the key
        // so a kid never names two keys.
        let kid = String(Base64URL.encode(SHA256.hash(data: modulus)).prefix(27))
        return SigningKey(kid: kid, privateKey: key)
    }

    /// The JWKS entry. Deliberately without `alg`: Entra omits it, and a client that insists
    /// on `alg` in the JWK fails against the real service.
    var jwk: JSONValue {
        let primitives = try? privateKey.publicKey.getKeyPrimitives()
        return .object([
            ("kty", .string("RSA")),
            ("use", .string("sig")),
            ("kid", .string(kid)),
            ("n", .string(Base64URL.encode(primitives?.modulus ?? Data()))),
            ("e", .string(Base64URL.encode(primitives?.publicExponent ?? Data()))),
        ])
    }

    /// A signed RS256 JWT over `claims`.
    func sign(_ claims: JSONValue) throws -> String {
        let header = JSONValue.object([("alg", .string("RS256")), ("typ", .string("JWT")), ("kid", .string(kid))])
        let input = Base64URL.encode(header.text) + "." + Base64URL.encode(claims.text)
        let signature = try privateKey.signature(for: SHA256.hash(data: Data(input.utf8)), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    func verifies(_ jwt: CompactJWT) -> Bool {
        privateKey.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: jwt.signature), for: SHA256.hash(data: jwt.signingInput),
            padding: .insecurePKCS1v1_5)
    }
}
