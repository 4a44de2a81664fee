import Crypto
import Foundation
import JWTKit
import PortcullisAuth
import Testing

@testable import PortcullisCore

/// Keys for these tests only, made with openssl (`genpkey`, `ecparam -genkey`, `pkcs8
/// -topk8`, `ec -aes256`); never used anywhere else.
enum AssertionTestKeys {
    /// One P-256 key as SEC1 after the `EC PARAMETERS` block `openssl ecparam -genkey` writes.
    static let p256WithParameters = """
        -----BEGIN EC PARAMETERS-----
        BggqhkjOPQMBBw==
        -----END EC PARAMETERS-----
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEIIujmRUD0OOCSXXJe8dabd9ejdrfwhY6YBMFb4nyt8DPoAoGCCqGSM49
        AwEHoUQDQgAE5z318gjQDPl4jgt3F+WsTECnGPAX19KuApSkq5Xs/vzxgjKIfaru
        6vLwQoqP/Xx3AsLO8zlsSsw7eAYj47xg2A==
        -----END EC PRIVATE KEY-----
        """
    /// The same P-256 key as PKCS#8 and as SEC1.
    static let p256PKCS8 = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZnZAEhYgoXAmtBHq
        exdpgvtKCFNp7n8NydU+j5jQUUqhRANCAARouzt6/iqt3LL/45g2ZfnRC7oykr8L
        MsVvXNg916wgZhEW3Xlcm4Foh/mOBHeVG1xBbl5ENkk8PpVD6rMOdQrM
        -----END PRIVATE KEY-----
        """
    static let p256SEC1 = """
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEIGZ2QBIWIKFwJrQR6nsXaYL7SghTae5/DcnVPo+Y0FFKoAoGCCqGSM49
        AwEHoUQDQgAEaLs7ev4qrdyy/+OYNmX50Qu6MpK/CzLFb1zYPdesIGYRFt15XJuB
        aIf5jgR3lRtcQW5eRDZJPD6VQ+qzDnUKzA==
        -----END EC PRIVATE KEY-----
        """
    /// That key encrypted with the passphrase "x": PKCS#8 and OpenSSL's legacy SEC1 form.
    static let encryptedPKCS8 = """
        -----BEGIN ENCRYPTED PRIVATE KEY-----
        MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiVtpYZoBJ0cgICCAAw
        DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEBzCb5BD7i66fkaeSiBsn0oEgZDr
        nWv4e+ExEjEMry+6XsoLrBh7uCO6VmgihddHFaGQxCK0anQ87okUY5F3PuggbyVH
        JGKcufm9YbzzYwPJqyMc+SuLFx+5MJppadgVaZz4vVVTbsnWJxW4LrAQFabYh66Q
        F/M5+1ZMXoHZz6o6Sc/sJMV7Yi6JqVVKT9szi92jIaXxMjnKKZoQKvANiq5QkTk=
        -----END ENCRYPTED PRIVATE KEY-----
        """
    static let encryptedSEC1 = """
        -----BEGIN EC PRIVATE KEY-----
        Proc-Type: 4,ENCRYPTED
        DEK-Info: AES-256-CBC,69F028502B17A6372D1F64B0D7F0F341

        RZVLqSoxNWpDo4ygYfjRpiY9TuUCbFqBRHp4Hr1XT2T/IevNcB91FNYiD9S9xYSa
        18NWHPHJhpsplNcy03w9Ggx+gRp/HYjYyQFV2F1XINyJMkhztoaCvr5nUmZM2/63
        7YbN6w8ObFbe5QYM53d/ydUMfJOV/XOeNylB+0CUkNw=
        -----END EC PRIVATE KEY-----
        """
    static let p384SEC1 = """
        -----BEGIN EC PRIVATE KEY-----
        MIGkAgEBBDB9xDdI7ug1YQUZ/nm/VH+kWS75YI+dBo7jh/LvZN4RIYbckArrCYUg
        CX1M5P9cxOmgBwYFK4EEACKhZANiAASD+N3f84TxeQBzQkm28R9fnli4m0YKAygJ
        XG+Rp+sCptDeUcpTtrh6vVlY64BO/52A6icGjzk0KWjdBFLVvdQr3rdbZ3JmbhIF
        UIlEhV7iwPHVrnA5EcJHG3kjgDTUv7w=
        -----END EC PRIVATE KEY-----
        """
    /// A 32-byte EC scalar like P-256's, which swift-crypto alone would accept as P-256.
    static let secp256k1PKCS8 = """
        -----BEGIN PRIVATE KEY-----
        MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQg/Ab8O3wp5djJGANZgMdz
        0rg0aLoLTLb/4LxH8/k74PKhRANCAASi+AVM2A2Z9qoLnyISueCtobYXXX+paJOi
        eB7ekycIpe+O+M8wjahdQzgmLnX93Q5VxPdpEyNB9Gju9VoJmu4u
        -----END PRIVATE KEY-----
        """
    static let ed25519PKCS8 = """
        -----BEGIN PRIVATE KEY-----
        MC4CAQAwBQYDK2VwBCIEICFOiwiSLvxUI5KuT6XLoHw6Srm5SRRNP2geVh5+cABK
        -----END PRIVATE KEY-----
        """
}

@Suite("Identity assertions (ES256 JWT + JWKS)")
struct AssertionTests {
    static let sso = Identity(
        username: "alice", email: "alice@contoso.example", displayName: "Alice Archer",
        objectId: "00000000-0000-4000-8000-00000000a11c", tenantId: "11111111-1111-4111-8111-111111111111",
        roles: ["Repairs.Read", "Repairs.Write"], groups: ["g-1", "g-2"], method: .sso)
    static let issuer = "https://gateway.contoso.example"

    func claims(
        _ identity: Identity = sso, permissions: [String] = ["repairs:read"], now: Date = Date(), lifetime: Int = 60
    ) -> AssertionClaims {
        AssertionClaims(identity: identity, permissions: permissions, audience: "repairs", issuer: Self.issuer, now: now, lifetime: lifetime)
    }

    /// What an upstream does: build its keys from the JWKS document it fetched.
    func upstreamKeys(_ keys: AssertionKeys) async throws -> JWTKeyCollection {
        try await JWTKeyCollection().add(jwksJSON: keys.jwksJSON)
    }

    /// A JWT segment as a JSON object.
    func object(_ token: String, segment: Int) throws -> [String: Any] {
        let bytes = try #require(Base64URL.decode(token.split(separator: ".")[segment]))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test("an upstream verifies the assertion against the JWKS it is served, and gets the claims back")
    func verifiesFromJWKS() async throws {
        let keys = AssertionKeys.generated()
        let signer = AssertionSigner(keys: keys)
        let sent = claims()
        let token = try signer.sign(sent)
        let received = try await upstreamKeys(keys).verify(token, as: AssertionClaims.self)
        #expect(received == sent)
    }

    @Test("the claims are the identity's; exp - iat is the lifetime; the header names the key")
    func claimsAndHeader() async throws {
        let keys = AssertionKeys.generated()
        let signer = AssertionSigner(keys: keys)
        let now = Date(timeIntervalSince1970: 1_900_000_000.75)
        let token = try signer.sign(claims(now: now, lifetime: 90))
        let header = try object(token, segment: 0)
        #expect(header["alg"] as? String == "ES256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == keys.signingKey.kid)

        let body = try object(token, segment: 1)
        #expect(body["iss"] as? String == Self.issuer)
        #expect(body["aud"] as? String == "repairs")
        #expect(body["sub"] as? String == "00000000-0000-4000-8000-00000000a11c")
        #expect(body["oid"] as? String == "00000000-0000-4000-8000-00000000a11c")
        #expect(body["tid"] as? String == "11111111-1111-4111-8111-111111111111")
        #expect(body["preferred_username"] as? String == "alice")
        #expect(body["email"] as? String == "alice@contoso.example")
        #expect(body["name"] as? String == "Alice Archer")
        #expect(body["roles"] as? [String] == ["Repairs.Read", "Repairs.Write"])
        #expect(body["groups"] as? [String] == ["g-1", "g-2"])
        #expect(body["permissions"] as? [String] == ["repairs:read"])
        #expect(body["amr"] as? [String] == ["sso"])
        #expect(body["iat"] as? Int == 1_900_000_000)
        #expect(body["exp"] as? Int == 1_900_000_090)
        #expect(((body["jti"] as? String)?.count ?? 0) >= 22)
        #expect(Set(body.keys).count == 15)
    }

    @Test("a local user: sub is the username, amr local, absent values and empty lists left out")
    func localUserOmissions() async throws {
        let local = Identity(username: "breakglass", email: "", method: .local)
        let sent = claims(local, permissions: [])
        #expect(sent.sub == "breakglass" && sent.oid == nil && sent.email == nil)
        let token = try AssertionSigner(keys: .generated()).sign(sent)
        let body = try object(token, segment: 1)
        #expect(body["sub"] as? String == "breakglass")
        #expect(body["amr"] as? [String] == ["local"])
        #expect(Set(body.keys) == ["iss", "aud", "sub", "preferred_username", "amr", "iat", "exp", "jti"])
        // Decoding reads the missing lists as empty.
        let keys = AssertionKeys.generated()
        let verified = try await upstreamKeys(keys).verify(try AssertionSigner(keys: keys).sign(sent), as: AssertionClaims.self)
        #expect(verified.roles == [] && verified.groups == [] && verified.permissions == [])
    }

    @Test("a route's own username rule changes preferred_username, never sub")
    func routeUsername() {
        let routeClaims = AssertionClaims(
            identity: Self.sso, username: "ALICE", permissions: [], audience: "erp", issuer: Self.issuer, now: Date(), lifetime: 60)
        #expect(routeClaims.preferredUsername == "ALICE" && routeClaims.sub == Self.sso.objectId)
        let local = Identity(username: "breakglass", method: .local)
        let localClaims = AssertionClaims(
            identity: local, username: "BREAKGLASS", permissions: [], audience: "erp", issuer: Self.issuer, now: Date(), lifetime: 60)
        #expect(localClaims.preferredUsername == "BREAKGLASS" && localClaims.sub == "breakglass")
    }

    @Test("two assertions for the same user at the same second are never alike")
    func uniqueAssertions() async throws {
        let signer = AssertionSigner(keys: .generated())
        let now = Date()
        let first = try signer.sign(claims(now: now)), second = try signer.sign(claims(now: now))
        #expect(first != second)
        #expect(try object(first, segment: 1)["jti"] as? String != object(second, segment: 1)["jti"] as? String)
    }

    @Test("an assertion is refused after exp")
    func refusedAfterExpiry() async throws {
        let keys = AssertionKeys.generated()
        let signer = AssertionSigner(keys: keys)
        let upstream = try await upstreamKeys(keys)
        let expired = try signer.sign(claims(now: Date().addingTimeInterval(-61), lifetime: 60))
        await #expect(throws: JWTError.self) { _ = try await upstream.verify(expired, as: AssertionClaims.self) }
        let fresh = try signer.sign(claims(now: Date().addingTimeInterval(-50), lifetime: 60))
        _ = try await upstream.verify(fresh, as: AssertionClaims.self)
    }

    @Test("rotation: an assertion from the publish-only key still verifies; new ones carry the first key's kid")
    func rotation() async throws {
        let old = AssertionKeys.newPrivateKeyPEM(), new = AssertionKeys.newPrivateKeyPEM()
        let before = try AssertionKeys(pem: old)
        let issuedBefore = try AssertionSigner(keys: before).sign(claims())

        let after = try AssertionKeys(pem: new + old)
        #expect(after.keys.map(\.kid) == [try AssertionKeys(pem: new).signingKey.kid, before.signingKey.kid])
        let upstream = try await upstreamKeys(after)
        _ = try await upstream.verify(issuedBefore, as: AssertionClaims.self)
        #expect(try object(issuedBefore, segment: 0)["kid"] as? String == before.signingKey.kid)

        let issuedAfter = try AssertionSigner(keys: after).sign(claims())
        #expect(try object(issuedAfter, segment: 0)["kid"] as? String == after.keys[0].kid)
        _ = try await upstream.verify(issuedAfter, as: AssertionClaims.self)
        // The old JWKS does not know the new key.
        await #expect(throws: (any Error).self) { _ = try await upstreamKeys(before).verify(issuedAfter, as: AssertionClaims.self) }
    }

    @Test("kid is the RFC 7638 thumbprint (a known P-256 vector, and computed independently)")
    func thumbprint() throws {
        // Private scalar d, its public point and the thumbprint, published as a test key by
        // transmute-industries/jwt.vc (sha256 hex 1235335b…aaf8), checked with openssl.
        let d = try #require(Base64URL.decode("C-5QLfqkE0pffZfp3tA5TfS06haBEWrW13VNwqmv4uc"))
        let pem = try P256.Signing.PrivateKey(rawRepresentation: d).pemRepresentation
        let key = try AssertionKeys(pem: pem).signingKey
        #expect(key.x == "V8ctRWc2deLSjfOjqQm7-m33SinduQbKJVgSHFj7ZxQ")
        #expect(key.y == "svjg0e-iAe5zElQhfqqagr4-S8k3WWgzz6JDPmRE_bk")
        #expect(key.kid == "EjUzW9FbLHXz6E9MaB2Fy8BZwA15ENG60GkKKvVmqvg")

        // Any key: the thumbprint of its JWK's required members, serialised by Foundation.
        let other = AssertionKeys.generated().signingKey
        let members = ["crv": "P-256", "kty": "EC", "x": other.x, "y": other.y]
        let canonical = try JSONSerialization.data(withJSONObject: members, options: [.sortedKeys, .withoutEscapingSlashes])
        let expected = Data(SHA256.hash(data: canonical)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        #expect(other.kid == expected)
    }

    @Test("the JWKS lists every key, signing key first, public members only")
    func jwksShape() throws {
        let keys = try AssertionKeys(pem: AssertionKeys.newPrivateKeyPEM() + AssertionKeys.newPrivateKeyPEM())
        let document = try #require(try JSONSerialization.jsonObject(with: Data(keys.jwks)) as? [String: Any])
        let listed = try #require(document["keys"] as? [[String: String]])
        #expect(listed.map { $0["kid"] } == keys.keys.map(\.kid))
        for (jwk, key) in zip(listed, keys.keys) {
            #expect(jwk == ["kty": "EC", "crv": "P-256", "x": key.x, "y": key.y, "kid": key.kid, "use": "sig", "alg": "ES256"])
        }
        #expect(keys.jwksJSON == String(decoding: keys.jwks, as: UTF8.self))
        #expect(!"\(keys)".contains("PRIVATE") && "\(keys)".contains(keys.keys[1].kid))
    }

    @Test("PKCS#8 and SEC1 files load, EC PARAMETERS is skipped, the file's order is kept")
    func keyFiles() throws {
        let pkcs8 = try AssertionKeys(pem: AssertionTestKeys.p256PKCS8)
        #expect(try AssertionKeys(pem: AssertionTestKeys.p256SEC1).signingKey.kid == pkcs8.signingKey.kid)
        let both = try AssertionKeys(pem: "# assertion keys\n" + AssertionTestKeys.p256WithParameters + "\n\n" + AssertionTestKeys.p256PKCS8 + "\n")
        #expect(both.keys.count == 2 && both.keys[1].kid == pkcs8.signingKey.kid)

        let file = try temporaryFile(AssertionTestKeys.p256SEC1)
        #expect(try AssertionKeys(contentsOfFile: file.path).signingKey.kid == pkcs8.signingKey.kid)
        let generated = AssertionKeys.newPrivateKeyPEM()
        #expect(generated.hasPrefix("-----BEGIN PRIVATE KEY-----\n") && generated.hasSuffix("-----END PRIVATE KEY-----\n"))
    }

    @Test("bad key files give named errors, never with key material")
    func badKeyFiles() throws {
        func error(_ pem: String) -> AssertionKeyError? {
            do {
                _ = try AssertionKeys(pem: pem)
                return nil
            } catch { return error }
        }
        #expect(throws: AssertionKeyError.unreadable(file: "/nonexistent/assertion.pem")) {
            try AssertionKeys(contentsOfFile: "/nonexistent/assertion.pem")
        }
        #expect(error("") == .noKey)
        #expect(error("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n") == .noKey)
        #expect(error(AssertionTestKeys.encryptedPKCS8) == .encrypted(block: 1))
        #expect(error(AssertionTestKeys.p256PKCS8 + "\n" + AssertionTestKeys.encryptedSEC1) == .encrypted(block: 2))
        #expect(error(AssertionTestKeys.p384SEC1) == .notP256(block: 1, found: "a P-384 key"))
        #expect(error(P384.Signing.PrivateKey().pemRepresentation) == .notP256(block: 1, found: "a P-384 key"))
        #expect(error(P521.Signing.PrivateKey().pemRepresentation) == .notP256(block: 1, found: "a P-521 key"))
        #expect(error(AssertionTestKeys.secp256k1PKCS8) == .notP256(block: 1, found: "a secp256k1 key"))
        #expect(error(AssertionTestKeys.ed25519PKCS8) == .notP256(block: 1, found: "an Ed25519 key"))
        #expect(error(TestCredentials.privateKeyPEM) == .notP256(block: 1, found: "an RSA key"))
        #expect(error("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----") == .notP256(block: 1, found: "an RSA key"))
        #expect(error(AssertionTestKeys.p256PKCS8 + "\n" + TestCredentials.certificatePEM) == .unexpectedBlock(block: 2, label: "CERTIFICATE"))
        #expect(error("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----") == .malformed(block: 1))
        #expect(error("-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----") == .malformed(block: 1))
        #expect(error(String(AssertionTestKeys.p256PKCS8.dropLast(30))) == .malformed(block: 1))
        #expect(error(AssertionTestKeys.p256PKCS8 + "\n" + AssertionTestKeys.p256SEC1) == .duplicate(block: 2, of: 1))

        let body = AssertionTestKeys.p256SEC1.split(separator: "\n")[1]
        for failure in [error(AssertionTestKeys.encryptedSEC1), error(AssertionTestKeys.p384SEC1), error(String(AssertionTestKeys.p256PKCS8.dropLast(30)))] {
            let text = "\(try #require(failure))"
            #expect(!text.contains(body.prefix(12)) && !text.contains("MIG") && !text.contains("RZVL"))
        }
    }

    @Test("AssertionConfig: defaults, lifetime 5…600 named assertion.lifetime, the key file read with the config")
    func config() throws {
        #expect(read([:]).config.lifetime == 60)
        #expect(read([:]).config.keyFile == nil && read([:]).config.keyPEM == nil && read([:]).config.audience == nil)
        #expect(read([:]).config.audience(forRoute: "repairs") == "repairs")
        #expect(read(["audience": .string("legacy-erp")]).config.audience(forRoute: "repairs") == "legacy-erp")
        #expect(read(["lifetime": .number(600)]).issues.isEmpty)
        #expect(read(["lifetime": .number(4)]).issues == ["assertion.lifetime: 4 is not a whole number from 5 to 600"])
        #expect(read(["lifetime": .number(601)]).issues == ["assertion.lifetime: 601 is not a whole number from 5 to 600"])
        #expect(read(["lifetime": .number(30.5)]).issues == ["assertion.lifetime: 30.5 is not a whole number from 5 to 600"])
        #expect(read(["lifetime": .string("60")]).issues == ["assertion.lifetime: expected a number, found a string"])
        #expect(read(["audience": .string("")]).issues == ["assertion.audience: must not be empty (leave it out to use each route's name)"])

        let keyFile = try temporaryFile(AssertionTestKeys.p256PKCS8)
        let withKey = read(["keyFile": .string(keyFile.lastPathComponent)], base: keyFile.deletingLastPathComponent())
        #expect(withKey.issues.isEmpty)
        #expect(withKey.config.keyPEM?.value == AssertionTestKeys.p256PKCS8 && "\(withKey.config.keyPEM!)" == "<secret>")
        #expect(withKey.files == [keyFile.standardizedFileURL.path])
        #expect(try AssertionKeys(pem: try #require(withKey.config.keyPEM).value).keys.count == 1)

        #expect(read(["keyFile": .string("/nonexistent/assertion.pem")]).issues == [#"assertion.keyFile: cannot read "/nonexistent/assertion.pem""#])
        let empty = try temporaryFile("")
        #expect(read(["keyFile": .string(empty.path)]).issues.first?.hasPrefix(#"assertion.keyFile: "\#(empty.path)" holds no PEM private key"#) == true)
    }

    /// An `assertion` object read as the top-level config will read it.
    func read(_ object: [String: JSONValue], base: URL = URL(fileURLWithPath: "/")) -> (config: AssertionConfig, issues: [String], files: [String]) {
        let collector = ConfigIssueCollector()
        let reader = ConfigObjectReader(path: "assertion", values: object, issues: collector, baseDirectory: base, environment: { _ in nil })
        reader.rejectUnknownKeys(known: AssertionConfig.fields.map(\.name))
        let config = AssertionConfig(reading: reader)
        return (config, collector.issues.map(\.description), collector.files)
    }

    func temporaryFile(_ text: String) throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pc-assertion-\(UUID().uuidString).pem")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}
