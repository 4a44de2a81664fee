import Crypto
import Foundation
import JWTKit
import PortcullisAuth
import PortcullisCore
import Testing

@Suite("Certificate client assertions (private_key_jwt)")
struct ClientAssertionTests {
    @Test("the assertion is PS256 with x5t#S256, aud = token endpoint, iss = sub = client id, unique jti, short life")
    func assertionShape() async throws {
        let signer = try await ClientAssertionSigner(
            clientId: "client-1", certificatePEM: TestCredentials.certificatePEM, privateKeyPEM: TestCredentials.privateKeyPEM)
        let now = Date()
        let first = try await signer.assertion(audience: "https://login.example/t/oauth2/v2.0/token", now: now)
        let second = try await signer.assertion(audience: "https://login.example/t/oauth2/v2.0/token", now: now)
        let parts = first.split(separator: ".")
        guard case .object(let header) = try JSONValue.parse(Data(Base64URL.decode(parts[0])!)),
            case .object(let claims) = try JSONValue.parse(Data(Base64URL.decode(parts[1])!)),
            case .object(let claims2) = try JSONValue.parse(Data(Base64URL.decode(second.split(separator: ".")[1])!))
        else { Issue.record("not JSON"); return }
        #expect(header["alg"]?.stringValue == "PS256")
        let der = Data(base64Encoded: TestCredentials.certificatePEM.split(separator: "\n").dropFirst().dropLast().joined())!
        #expect(header["x5t#S256"]?.stringValue == Base64URL.encode(SHA256.hash(data: der)))
        #expect(claims["aud"]?.stringValue == "https://login.example/t/oauth2/v2.0/token")
        #expect(claims["iss"]?.stringValue == "client-1" && claims["sub"]?.stringValue == "client-1")
        #expect(claims["jti"] != nil && claims["jti"] != claims2["jti"])
        let life = (claims["exp"]?.numberValue ?? 0) - (claims["iat"]?.numberValue ?? 0)
        #expect(life >= 300 && life <= 600)

        // The signature verifies with the certificate's public key under PS256.
        let keys = JWTKeyCollection()
        await keys.add(pss: try Insecure.RSA.PublicKey(certificatePEM: TestCredentials.certificatePEM), digestAlgorithm: .sha256)
        struct Claims: JWTPayload {
            var aud: String
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let verified = try await keys.verify(first, as: Claims.self)
        #expect(verified.aud == "https://login.example/t/oauth2/v2.0/token")
    }

    @Test("a key that does not match the certificate is refused at start")
    func mismatchedKey() async throws {
        await #expect(throws: ClientAssertionSigner.InvalidCredential.self) {
            _ = try await ClientAssertionSigner(
                clientId: "c", certificatePEM: TestCredentials.otherCertificatePEM, privateKeyPEM: TestCredentials.privateKeyPEM)
        }
        await #expect(throws: ClientAssertionSigner.InvalidCredential.self) {
            _ = try await ClientAssertionSigner(clientId: "c", certificatePEM: "junk", privateKeyPEM: TestCredentials.privateKeyPEM)
        }
    }
}
