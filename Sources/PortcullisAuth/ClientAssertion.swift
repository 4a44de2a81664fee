import Crypto
import Foundation
import JWTKit
import PortcullisCore

/// Signs `private_key_jwt` client assertions (RFC 7523) for the token endpoint, the way
/// Entra expects certificate credentials: PS256, header `x5t#S256` (SHA-256 thumbprint of
/// the registered certificate), `aud` = the token endpoint, `iss` = `sub` = client id, a
/// unique `jti`, and a short life so a leaked assertion is soon worthless.
public struct ClientAssertionSigner: Sendable {
    public let clientId: String
    /// base64url SHA-256 of the certificate's DER encoding.
    public let thumbprint: String
    let keys: JWTKeyCollection
    /// Seconds an assertion is valid.
    public static let lifetime: TimeInterval = 300

    public struct InvalidCredential: Error, CustomStringConvertible {
        public var description: String
    }

    public init(clientId: String, certificatePEM: String, privateKeyPEM: String) async throws {
        guard let der = PEMBlock.first("CERTIFICATE", in: certificatePEM) else {
            throw InvalidCredential(description: "the client certificate is not a PEM certificate")
        }
        let key: JWTKit.Insecure.RSA.PrivateKey
        do {
            key = try JWTKit.Insecure.RSA.PrivateKey(pem: privateKeyPEM)
        } catch {
            throw InvalidCredential(description: "the client certificate's private key is not an RSA key of 2048 bits or more")
        }
        let certificateKey = try? JWTKit.Insecure.RSA.PublicKey(certificatePEM: certificatePEM)
        guard certificateKey == key.publicKey else {
            throw InvalidCredential(description: "the private key does not belong to the client certificate")
        }
        self.clientId = clientId
        self.thumbprint = Base64URL.encode(SHA256.hash(data: der))
        self.keys = JWTKeyCollection()
        await keys.add(pss: key, digestAlgorithm: .sha256)
    }

    /// A fresh assertion for the token endpoint at `audience`.
    public func assertion(audience: String, now: Date = Date()) async throws -> String {
        let issued = now.timeIntervalSince1970.rounded(.down)
        let claims = ClientAssertionClaims(
            aud: audience, iss: clientId, sub: clientId, jti: UUID().uuidString.lowercased(),
            nbf: issued, iat: issued, exp: issued + Self.lifetime)
        var header = JWTHeader()
        header.typ = "JWT"
        header.fields["x5t#S256"] = .string(thumbprint)
        return try await keys.sign(claims, header: header)
    }

    struct ClientAssertionClaims: JWTPayload {
        var aud: String
        var iss: String
        var sub: String
        var jti: String
        var nbf: Double
        var iat: Double
        var exp: Double
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}
