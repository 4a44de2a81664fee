import Crypto
import CryptoExtras
import Foundation
import PortcullisCore

/// A self-signed X.509 certificate built with a few lines of DER, because swift-certificates
/// is not a dependency of this package: enough for the IdP to read the key and thumbprint.
struct TestCertificate {
    let key: _RSA.Signing.PrivateKey
    let der: [UInt8]

    init() throws {
        key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let algorithm = DER.sequence(DER.oid([1, 2, 840, 113549, 1, 1, 11]), [0x05, 0x00])
        let name = DER.sequence(DER.set(DER.sequence(DER.oid([2, 5, 4, 3]), DER.tlv(0x0C, Array("dev-client".utf8)))))
        let validity = DER.sequence(DER.tlv(0x17, Array("250101000000Z".utf8)), DER.tlv(0x17, Array("491231235959Z".utf8)))
        let tbs = DER.sequence(
            DER.tlv(0xA0, DER.tlv(0x02, [0x02])),  // version v3
            DER.tlv(0x02, [0x01, 0x23, 0x45, 0x67]),  // serial
            algorithm, name, validity, name,
            Array(key.publicKey.derRepresentation))
        let signature = try key.signature(for: SHA256.hash(data: tbs), padding: .insecurePKCS1v1_5)
        der = DER.sequence(tbs, algorithm, DER.tlv(0x03, [0x00] + Array(signature.rawRepresentation)))
    }

    var pem: String {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n"
    }

    /// `x5t#S256`: base64url SHA-256 of the DER.
    var thumbprintSHA256: String { TestBase64URL.encode(SHA256.hash(data: der)) }

    /// A client assertion; every part can be spoiled by the caller.
    func assertion(
        clientID: String, audience: String, jti: String = UUID().uuidString, algorithm: String = "PS256",
        thumbprint: String? = nil, lifetime: TimeInterval = 300, issuedAt: Date = Date()
    ) throws -> String {
        var header: [String: Any] = ["alg": algorithm, "typ": "JWT"]
        header["x5t#S256"] = thumbprint ?? thumbprintSHA256
        let iat = Int(issuedAt.timeIntervalSince1970)
        let claims: [String: Any] = [
            "aud": audience, "iss": clientID, "sub": clientID, "jti": jti, "nbf": iat, "iat": iat,
            "exp": iat + Int(lifetime),
        ]
        let input =
            TestBase64URL.encode(try JSONSerialization.data(withJSONObject: header))
            + "." + TestBase64URL.encode(try JSONSerialization.data(withJSONObject: claims))
        let padding: _RSA.Signing.Padding = algorithm == "PS256" ? .PSS : .insecurePKCS1v1_5
        let signature = try key.signature(for: SHA256.hash(data: Data(input.utf8)), padding: padding)
        return input + "." + TestBase64URL.encode(signature.rawRepresentation)
    }
}

/// Just enough DER encoding for a certificate.
enum DER {
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8]
        if content.count < 0x80 {
            length = [UInt8(content.count)]
        } else {
            var count = content.count
            var bytes: [UInt8] = []
            while count > 0 {
                bytes.insert(UInt8(count & 0xFF), at: 0)
                count >>= 8
            }
            length = [0x80 | UInt8(bytes.count)] + bytes
        }
        return [tag] + length + content
    }

    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }
    static func set(_ parts: [UInt8]...) -> [UInt8] { tlv(0x31, parts.flatMap { $0 }) }

    static func oid(_ arcs: [UInt]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(arcs[0] * 40 + arcs[1])]
        for arc in arcs.dropFirst(2) {
            var chunk: [UInt8] = [UInt8(arc & 0x7F)]
            var rest = arc >> 7
            while rest > 0 {
                chunk.insert(UInt8(rest & 0x7F) | 0x80, at: 0)
                rest >>= 7
            }
            bytes += chunk
        }
        return tlv(0x06, bytes)
    }
}
