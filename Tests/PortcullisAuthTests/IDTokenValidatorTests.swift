import Foundation
import PortcullisAuth
import PortcullisCore
import Testing

@Suite("ID token validation")
struct IDTokenValidatorTests {
    static let clientId = "6f1e5a4c-0000-4000-8000-00000000c0de"
    static let tenant = "11111111-1111-4111-8111-111111111111"
    static let otherTenant = "22222222-2222-4222-8222-222222222222"
    static let issuer = "https://login.example/\(tenant)/v2.0"
    static let template = "https://login.example/{tenantid}/v2.0"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func claims(_ changes: [String: JSONValue?] = [:]) -> [String: JSONValue] {
        let t = now.timeIntervalSince1970
        var claims: [String: JSONValue] = [
            "aud": .string(clientId), "iss": .string(issuer), "tid": .string(tenant), "oid": .string("o-1"),
            "iat": .number(t - 10), "nbf": .number(t - 10), "exp": .number(t + 3600), "nonce": .string("n-123"),
            "preferred_username": .string("alice@contoso.example"),
        ]
        for (key, value) in changes { claims[key] = value }
        return claims
    }

    static func expecting(
        issuer: IDTokenExpectations.Issuer = .exact(issuer), tenants: Set<String> = [], nonce: String? = "n-123"
    ) -> IDTokenExpectations {
        IDTokenExpectations(clientId: clientId, issuer: issuer, allowedTenants: tenants, nonce: nonce, now: now)
    }

    func code(_ result: Result<[String: ClaimValue], IDTokenRejection>) -> IDTokenRejection.Code? {
        if case .failure(let rejection) = result { return rejection.code }
        return nil
    }

    @Test("a good token passes and yields its claims")
    func goodToken() async throws {
        let mint = try TokenMint.make()
        let result = await IDTokenValidator.validate(mint.sign(Self.claims()), keys: try await mint.keySet(), expecting: Self.expecting())
        let claims = try result.get()
        #expect(claims["preferred_username"]?.stringValue == "alice@contoso.example")
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var claims: [String: JSONValue?] = [:]
        var expecting: IDTokenExpectations = IDTokenValidatorTests.expecting()
        var expected: IDTokenRejection.Code?
    }

    static let claimCases: [Case] = [
        Case(description: "wrong aud", claims: ["aud": .string("another-app")], expected: .wrongAudience),
        Case(description: "aud missing", claims: ["aud": nil], expected: .wrongAudience),
        Case(description: "aud array without azp", claims: ["aud": .array([.string(clientId), .string("x")])], expected: .wrongAudience),
        Case(description: "aud array with azp", claims: ["aud": .array([.string(clientId), .string("x")]), "azp": .string(clientId)]),
        Case(description: "wrong iss", claims: ["iss": .string("https://evil.example/\(tenant)/v2.0")], expected: .wrongIssuer),
        Case(description: "iss missing", claims: ["iss": nil], expected: .wrongIssuer),
        Case(
            description: "multi-tenant: iss matches tid", claims: [:], expecting: expecting(issuer: .tenantTemplate(template))),
        Case(
            description: "multi-tenant: tid does not match iss", claims: ["tid": .string(otherTenant)],
            expecting: expecting(issuer: .tenantTemplate(template)), expected: .wrongIssuer),
        Case(
            description: "multi-tenant: tid missing", claims: ["tid": nil],
            expecting: expecting(issuer: .tenantTemplate(template)), expected: .wrongIssuer),
        Case(
            description: "multi-tenant: tid not a GUID", claims: ["tid": .string("x/../y"), "iss": .string("https://login.example/x/../y/v2.0")],
            expecting: expecting(issuer: .tenantTemplate(template)), expected: .wrongIssuer),
        Case(
            description: "disallowed tenant",
            claims: ["tid": .string(otherTenant), "iss": .string("https://login.example/\(otherTenant)/v2.0")],
            expecting: expecting(issuer: .tenantTemplate(template), tenants: [tenant]), expected: .tenantNotAllowed),
        Case(description: "allowed tenant", expecting: expecting(issuer: .tenantTemplate(template), tenants: [tenant])),
        Case(description: "expired", claims: ["exp": .number(now.timeIntervalSince1970 - 121)], expected: .expired),
        Case(description: "expired within skew", claims: ["exp": .number(now.timeIntervalSince1970 - 60)]),
        Case(description: "exp missing", claims: ["exp": nil], expected: .expired),
        Case(description: "exp not a number", claims: ["exp": .string("9999999999")], expected: .expired),
        Case(description: "nbf in the future", claims: ["nbf": .number(now.timeIntervalSince1970 + 600)], expected: .notYetValid),
        Case(description: "nbf within skew", claims: ["nbf": .number(now.timeIntervalSince1970 + 60)]),
        Case(description: "iat in the future", claims: ["iat": .number(now.timeIntervalSince1970 + 600)], expected: .issuedInFuture),
        Case(description: "iat missing", claims: ["iat": nil], expected: .issuedInFuture),
        Case(description: "bad nonce", claims: ["nonce": .string("n-124")], expected: .nonceMismatch),
        Case(description: "nonce missing", claims: ["nonce": nil], expected: .nonceMismatch),
        Case(description: "nonce not checked on refresh", claims: ["nonce": nil], expecting: expecting(nonce: nil)),
    ]

    @Test("claim checks", arguments: claimCases)
    func claimChecks(_ testCase: Case) async throws {
        let mint = try TokenMint.make()
        let result = await IDTokenValidator.validate(mint.sign(Self.claims(testCase.claims)), keys: try await mint.keySet(), expecting: testCase.expecting)
        #expect(code(result) == testCase.expected)
    }

    @Test("alg none is refused")
    func algNone() async throws {
        let mint = try TokenMint.make()
        let header = TokenMint.segment(.object(["alg": .string("none"), "typ": .string("JWT"), "kid": .string(mint.kid)]))
        let token = header + "." + TokenMint.segment(.object(Self.claims())) + "."
        #expect(code(await IDTokenValidator.validate(token, keys: try await mint.keySet(), expecting: Self.expecting())) == .algorithmNotAllowed)
        let noneUpper = TokenMint.segment(.object(["alg": .string("NONE"), "kid": .string(mint.kid)])) + "." + TokenMint.segment(.object(Self.claims())) + "."
        #expect(code(await IDTokenValidator.validate(noneUpper, keys: try await mint.keySet(), expecting: Self.expecting())) == .algorithmNotAllowed)
    }

    @Test("HS256 keyed with the public key is refused")
    func keyConfusion() async throws {
        let mint = try TokenMint.make()
        let token = mint.hs256WithPublicKey(Self.claims())
        #expect(code(await IDTokenValidator.validate(token, keys: try await mint.keySet(), expecting: Self.expecting())) == .algorithmNotAllowed)
    }

    @Test("other RSA algorithms are refused")
    func otherAlgorithms() async throws {
        let mint = try TokenMint.make()
        for alg in ["RS384", "RS512", "PS256", "ES256", "rs256"] {
            let token = mint.sign(Self.claims(), header: ["alg": .string(alg), "kid": .string(mint.kid)])
            #expect(code(await IDTokenValidator.validate(token, keys: try await mint.keySet(), expecting: Self.expecting())) == .algorithmNotAllowed)
        }
    }

    @Test("a bad signature is refused")
    func badSignature() async throws {
        let mint = try TokenMint.make()
        let token = mint.sign(Self.claims())
        let parts = token.split(separator: ".").map(String.init)
        // The payload of another (valid) token under this token's signature.
        let forgedPayload = TokenMint.segment(.object(Self.claims(["preferred_username": .string("admin@contoso.example")])))
        let forged = parts[0] + "." + forgedPayload + "." + parts[2]
        #expect(code(await IDTokenValidator.validate(forged, keys: try await mint.keySet(), expecting: Self.expecting())) == .badSignature)
        // A signature by another key that uses the same kid.
        let impostor = TokenMint(key: try .init(keySize: .bits2048), kid: mint.kid)
        #expect(code(await IDTokenValidator.validate(impostor.sign(Self.claims()), keys: try await mint.keySet(), expecting: Self.expecting())) == .badSignature)
        // A truncated signature.
        let truncated = String(token.dropLast(10))
        #expect(code(await IDTokenValidator.validate(truncated, keys: try await mint.keySet(), expecting: Self.expecting())) == .badSignature)
    }

    @Test("an unknown or missing kid is reported as unknown (the caller refetches keys)")
    func unknownKid() async throws {
        let mint = try TokenMint.make()
        let other = try TokenMint.make(kid: "key-2")
        #expect(code(await IDTokenValidator.validate(other.sign(Self.claims()), keys: try await mint.keySet(), expecting: Self.expecting())) == .unknownKey)
        let otherNoKid = other.sign(Self.claims(), header: ["alg": .string("RS256")])
        #expect(code(await IDTokenValidator.validate(otherNoKid, keys: try await mint.keySet(), expecting: Self.expecting())) == .badSignature)
    }

    @Test("a token without kid verifies only when the provider has exactly one key")
    func noKid() async throws {
        let mint = try TokenMint.make()
        let noKid = mint.sign(Self.claims(), header: ["alg": .string("RS256"), "typ": .string("JWT")])
        #expect(code(await IDTokenValidator.validate(noKid, keys: try await mint.keySet(), expecting: Self.expecting())) == nil)
        let second = try TokenMint.make(kid: "key-2")
        guard case .object(var first) = try JSONValue.parse(mint.jwksJSON), case .object(let other) = try JSONValue.parse(second.jwksJSON),
            case .array(let keys1)? = first["keys"], case .array(let keys2)? = other["keys"]
        else { Issue.record("bad JWKS"); return }
        first["keys"] = .array(keys1 + keys2)
        let both = try await SigningKeySet(jwksJSON: try JSONEncoder().encode(JSONValue.object(first)))
        #expect(code(await IDTokenValidator.validate(noKid, keys: both, expecting: Self.expecting())) == .unknownKey)
    }

    @Test("malformed tokens are refused, not crashed on", arguments: [
        "", ".", "..", "a.b", "a.b.c.d", "not-base64!.x.y", "e30.e30.", String(repeating: "A", count: 40_000),
        "eyJhbGciOiJSUzI1NiJ9", "W10.e30.e30",
    ])
    func malformed(_ token: String) async throws {
        let mint = try TokenMint.make()
        let result = await IDTokenValidator.validate(token, keys: try await mint.keySet(), expecting: Self.expecting())
        #expect(code(result) != nil)
    }

    @Test("critical header extensions are refused")
    func crit() async throws {
        let mint = try TokenMint.make()
        let token = mint.sign(Self.claims(), header: ["alg": .string("RS256"), "kid": .string(mint.kid), "crit": .array([.string("exp")])])
        #expect(code(await IDTokenValidator.validate(token, keys: try await mint.keySet(), expecting: Self.expecting())) == .malformed)
    }

    @Test("JWKS entries without alg are pinned to RS256; non-RSA keys are ignored")
    func jwksParsing() async throws {
        let mint = try TokenMint.make()
        var document = try JSONValue.parse(mint.jwksJSON)
        if case .object(var object) = document, case .array(var keys)? = object["keys"] {
            keys.append(.object(["kty": .string("EC"), "kid": .string("ec-1"), "crv": .string("P-256"), "x": .string("AA"), "y": .string("AA")]))
            object["keys"] = .array(keys)
            document = .object(object)
        }
        let set = try await SigningKeySet(jwksJSON: try JSONEncoder().encode(document))
        #expect(set.keyIDs == [mint.kid])
    }
}
