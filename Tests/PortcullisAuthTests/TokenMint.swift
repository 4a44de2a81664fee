import Crypto
import Foundation
import PortcullisAuth
import PortcullisCore
import _CryptoExtras

/// Makes ID tokens for validation tests, with full control over header and signature, so
/// forged shapes (`alg: none`, HS256 with the public key) can be built too.
struct TokenMint {
    let key: _RSA.Signing.PrivateKey
    let kid: String

    static func make(kid: String = "key-1") throws -> TokenMint {
        TokenMint(key: try _RSA.Signing.PrivateKey(keySize: .bits2048), kid: kid)
    }

    var jwksJSON: Data {
        let primitives = try! key.publicKey.getKeyPrimitives()
        let jwk: JSONValue = .object([
            "kty": .string("RSA"), "use": .string("sig"), "kid": .string(kid),
            "n": .string(Base64URL.encode(primitives.modulus)), "e": .string(Base64URL.encode(primitives.publicExponent)),
        ])
        return try! JSONEncoder().encode(JSONValue.object(["keys": .array([jwk])]))
    }

    func keySet() async throws -> SigningKeySet { try await SigningKeySet(jwksJSON: jwksJSON) }

    static func segment(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Base64URL.encode(try! encoder.encode(value))
    }

    /// RS256 over `header.payload` with this key.
    func sign(_ claims: [String: JSONValue], header: [String: JSONValue]? = nil) -> String {
        let head = header ?? ["alg": .string("RS256"), "typ": .string("JWT"), "kid": .string(kid)]
        let input = Self.segment(.object(head)) + "." + Self.segment(.object(claims))
        let signature = try! key.signature(for: SHA256.hash(data: Array(input.utf8)), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// The classic key-confusion forgery: HS256 keyed with the RSA public key's PEM.
    func hs256WithPublicKey(_ claims: [String: JSONValue]) -> String {
        let input = Self.segment(.object(["alg": .string("HS256"), "typ": .string("JWT"), "kid": .string(kid)])) + "."
            + Self.segment(.object(claims))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(key.publicKey.pemRepresentation.utf8)))
        return input + "." + Base64URL.encode(Array(mac))
    }
}
