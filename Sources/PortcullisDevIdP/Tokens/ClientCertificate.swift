import Crypto
import CryptoExtras
import Foundation
import JWTKit
import PortcullisCore

/// A client's registered certificate: the key that verifies its assertions and the
/// thumbprint its assertions must name in `x5t#S256`.
struct ClientCertificate: Sendable {
    let publicKey: _RSA.Signing.PublicKey
    /// base64url SHA-256 of the certificate DER, as an `x5t#S256` header carries it.
    let thumbprintSHA256: String

    init(pem: String) throws {
        // jwt-kit parses the certificate with swift-certificates, which we cannot import directly.
        let key = try JWTKit.Insecure.RSA.PublicKey(certificatePEM: pem)
        let primitives = try key.getKeyPrimitives()
        self.publicKey = try _RSA.Signing.PublicKey(n: primitives.modulus, e: primitives.publicExponent)
        guard let der = Self.der(fromPEM: pem) else { throw CertificateError() }
        self.thumbprintSHA256 = Base64URL.encode(SHA256.hash(data: der))
    }

    /// The first `CERTIFICATE` block's bytes.
    static func der(fromPEM pem: String) -> Data? {
        guard let begin = pem.range(of: "-----BEGIN CERTIFICATE-----"),
            let end = pem.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<pem.endIndex)
        else { return nil }
        let base64 = pem[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(base64))
    }

    struct CertificateError: Error {}
}
