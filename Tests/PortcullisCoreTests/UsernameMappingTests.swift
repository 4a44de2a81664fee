import Foundation
import Testing

@testable import PortcullisCore

/// Claims as Entra sends them for a member user, with every username claim present.
private let memberClaims: [String: ClaimValue] = [
    "preferred_username": .string("Jane.Doe@Contoso.org"),
    "upn": .string("jdoe@contoso.onmicrosoft.com"),
    "email": .string("jane.doe@contoso.org"),
    "oid": .string("00000000-0000-0000-66f3-3332eca7ea81"),
    "name": .string("Jane Doe"),
    "exp": .number(1_700_000_000),
]

@Suite("Username mapping")
struct UsernameMappingTests {
    @Test(
        "each claim choice reads its own claim",
        arguments: [
            (UsernameClaim.preferredUsername, "Jane.Doe@Contoso.org"), (.upn, "jdoe@contoso.onmicrosoft.com"),
            (.email, "jane.doe@contoso.org"), (.oid, "00000000-0000-0000-66f3-3332eca7ea81"),
        ])
    func claimChoice(claim: UsernameClaim, expected: String) {
        #expect(UsernameMapping(claim: claim).username(from: memberClaims) == .success(expected))
    }

    @Test("the default is preferred_username, untransformed, and claim names match Entra's")
    func defaults() {
        let mapping = UsernameMapping()
        #expect(mapping.claim == .preferredUsername)
        #expect(mapping.transforms.isEmpty && mapping.overrides.isEmpty)
        #expect(mapping.username(from: memberClaims) == .success("Jane.Doe@Contoso.org"))
        #expect(UsernameClaim.allCases.map(\.rawValue) == ["preferred_username", "upn", "email", "oid"])
        #expect(UsernameTransform.allCases.map(\.rawValue) == ["lowercase", "uppercase", "stripDomain"])
        #expect(UsernameClaim(rawValue: "preferred_username") == .preferredUsername)
        #expect(UsernameTransform(rawValue: "stripDomain") == .stripDomain)
    }

    @Test(
        "transforms apply in order",
        arguments: [
            ([UsernameTransform.lowercase], "Jane.Doe@Contoso.org", "jane.doe@contoso.org"),
            ([.uppercase], "Jane.Doe@Contoso.org", "JANE.DOE@CONTOSO.ORG"),
            ([.stripDomain], "Jane.Doe@Contoso.org", "Jane.Doe"),
            ([.stripDomain, .lowercase], "Jane.Doe@Contoso.org", "jane.doe"),
            ([.lowercase, .stripDomain], "Jane.Doe@Contoso.org", "jane.doe"),
            ([.stripDomain, .uppercase], "Jane.Doe@Contoso.org", "JANE.DOE"),
            ([.lowercase, .uppercase], "Jane.Doe@Contoso.org", "JANE.DOE@CONTOSO.ORG"),
            ([.uppercase, .lowercase], "Jane.Doe@Contoso.org", "jane.doe@contoso.org"),
            ([.stripDomain, .stripDomain], "a@b@contoso.org", "a"),
            ([.stripDomain], "jdoe", "jdoe"),
            ([.stripDomain], "\"admin@x\"@evil.com", "\"admin@x\""),
            ([.stripDomain], "a@b@contoso.org", "a@b"),
            ([.uppercase], "straße", "STRASSE"),
            ([.lowercase], "ÅSA.ÖBERG@contoso.se", "åsa.öberg@contoso.se"),
            ([], "MixedCase", "MixedCase"),
        ])
    func transforms(transforms: [UsernameTransform], value: String, expected: String) {
        let mapping = UsernameMapping(transforms: transforms)
        #expect(mapping.username(from: ["preferred_username": .string(value)]) == .success(expected))
    }

    @Test(
        "unicode usernames are kept intact",
        arguments: ["山田太郎", "józef.wąsik", "zoë", "Ελένη", "user name", "o'brien", "ünïcödé@例え.jp", "👩‍💻"])
    func unicodeKept(value: String) {
        #expect(UsernameMapping().username(from: ["preferred_username": .string(value)]) == .success(value))
    }

    @Test(
        "an override matches the raw claim value in any case and wins over transforms",
        arguments: [
            ("jane.doe@contoso.org", "JDOE"), ("Jane.Doe@Contoso.org", "JDOE"), ("JANE.DOE@CONTOSO.ORG", "JDOE"),
            ("svc-backup@contoso.org", "backup"), ("ÅSA@contoso.se", "asa1"), ("åsa@CONTOSO.se", "asa1"),
            ("other@contoso.org", "other"), ("jane.doe@contoso.org.evil.com", "jane.doe"), ("jane.doe", "jane.doe"),
        ])
    func overrides(value: String, expected: String) {
        let mapping = UsernameMapping(
            transforms: [.stripDomain, .lowercase],
            overrides: ["jane.doe@contoso.org": "JDOE", "SVC-Backup@contoso.org": "backup", "åsa@contoso.se": "asa1"])
        #expect(mapping.username(from: ["preferred_username": .string(value)]) == .success(expected))
    }

    @Test("override keys compare against the raw claim, not the transformed one")
    func overrideRawKey() {
        let mapping = UsernameMapping(transforms: [.stripDomain], overrides: ["jane.doe": "JDOE"])
        #expect(mapping.username(from: ["preferred_username": .string("jane.doe@contoso.org")]) == .success("jane.doe"))
        #expect(mapping.username(from: ["preferred_username": .string("Jane.Doe")]) == .success("JDOE"))
    }

    @Test("override keys equal but for case are reported, and resolve the same way every time")
    func duplicateOverrideKeys() {
        let overrides = ["jane@contoso.org": "b", "JANE@contoso.org": "a", "x": "y"]
        #expect(UsernameMapping.caseInsensitiveDuplicateKeys(overrides) == ["JANE@contoso.org", "jane@contoso.org"])
        #expect(UsernameMapping.caseInsensitiveDuplicateKeys(["a": "1", "b": "2"]).isEmpty)
        for _ in 0..<20 {
            let mapping = UsernameMapping(overrides: overrides)
            #expect(mapping.username(from: ["preferred_username": .string("jane@contoso.org")]) == .success("a"))
        }
    }

    @Test("an override that is itself unusable is refused, not sent")
    func badOverride() {
        let mapping = UsernameMapping(overrides: ["jane@contoso.org": "", "bob@contoso.org": "bob\r\nX-Injected: 1"])
        #expect(mapping.username(from: ["preferred_username": .string("jane@contoso.org")]).error?.kind == .empty)
        #expect(
            mapping.username(from: ["preferred_username": .string("bob@contoso.org")]).error?.kind == .controlCharacters)
    }

    @Test(
        "a missing or non-string claim is an error naming the claim",
        arguments: [
            (nil, UsernameMappingError.Kind.missingClaim), (ClaimValue.null, .notAString(found: "null")),
            (.number(42), .notAString(found: "a number")), (.bool(true), .notAString(found: "a boolean")),
            (.array([.string("jdoe")]), .notAString(found: "an array")),
            (.object(["value": .string("jdoe")]), .notAString(found: "an object")),
        ] as [(ClaimValue?, UsernameMappingError.Kind)])
    func missingOrIllTyped(value: ClaimValue?, kind: UsernameMappingError.Kind) {
        var claims = memberClaims
        claims["upn"] = value
        let result = UsernameMapping(claim: .upn).username(from: claims)
        #expect(result == .failure(UsernameMappingError(claim: "upn", kind: kind)))
        #expect(result.error?.description.contains("\"upn\"") == true)
    }

    @Test(
        "usernames that are empty, blank or carry controls are refused",
        arguments: [
            ("", [], UsernameMappingError.Kind.empty), ("@contoso.org", [UsernameTransform.stripDomain], .empty),
            ("   ", [], .whitespaceOnly), ("\u{a0}\u{3000}", [], .whitespaceOnly),
            (" admin", [], .surroundingWhitespace), ("admin ", [], .surroundingWhitespace),
            ("admin\t@x", [.stripDomain], .controlCharacters), ("jdoe\r\nX-Forwarded-User: admin", [], .controlCharacters),
            ("jdoe\u{0}", [], .controlCharacters), ("jdoe\u{7f}", [], .controlCharacters),
            ("jdoe\u{85}", [], .controlCharacters),
            ("jd\u{2028}oe", [], .controlCharacters), ("jd\u{2029}oe", [], .controlCharacters), ("\n", [], .controlCharacters),
        ] as [(String, [UsernameTransform], UsernameMappingError.Kind)])
    func refused(value: String, transforms: [UsernameTransform], kind: UsernameMappingError.Kind) {
        let result = UsernameMapping(claim: .email, transforms: transforms).username(from: ["email": .string(value)])
        #expect(result == .failure(UsernameMappingError(claim: "email", kind: kind)))
    }

    @Test("error messages never quote the claim value")
    func noEcho() {
        let secretish = "eyJhbGciOi.secret-looking@contoso.org\r\n"
        for claims in [["email": ClaimValue.string(secretish)], ["email": .array([.string(secretish)])]] {
            let message = UsernameMapping(claim: .email).username(from: claims).error?.description ?? ""
            #expect(message.contains("\"email\""))
            #expect(!message.contains("secret"))
        }
    }

    @Test("an Entra ID token payload decodes into claims")
    func decodePayload() throws {
        let json = #"""
            {
              "aud": "6cb04018-a3f5-46a7-b995-940c78f5aef3",
              "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
              "iat": 1700000000, "nbf": 1700000000, "exp": 1700003600,
              "name": "Jane Doe", "preferred_username": "jane.doe@contoso.org",
              "oid": "00000000-0000-0000-66f3-3332eca7ea81", "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
              "roles": ["Reader", "Admin"], "groups": [], "email_verified": true, "ver": "2.0",
              "hasgroups": false, "acct": 0, "amr": ["pwd", "mfa"], "ratio": 1.5, "nickname": null,
              "_claim_names": { "groups": "src1" },
              "_claim_sources": { "src1": { "endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } },
              "mixed": ["a", 1, true, null, {"k": "v"}]
            }
            """#
        let claims = try JSONDecoder().decode([String: ClaimValue].self, from: Data(json.utf8))
        #expect(claims["exp"] == .number(1_700_003_600))
        #expect(claims["exp"]?.numberValue == 1_700_003_600)
        #expect(claims["acct"] == .number(0))
        #expect(claims["ratio"] == .number(1.5))
        #expect(claims["email_verified"] == .bool(true))
        #expect(claims["hasgroups"]?.boolValue == false)
        #expect(claims["nickname"] == .null)
        #expect(claims["roles"]?.stringArrayValue == ["Reader", "Admin"])
        #expect(claims["groups"]?.stringArrayValue == [])
        #expect(claims["amr"] == .array([.string("pwd"), .string("mfa")]))
        #expect(claims["mixed"] == .array([.string("a"), .number(1), .bool(true), .null, .object(["k": .string("v")])]))
        #expect(claims["mixed"]?.stringArrayValue == nil)
        #expect(claims["name"]?.stringArrayValue == nil)
        #expect(claims["_claim_names"] == .object(["groups": .string("src1")]))
        #expect(claims["ver"]?.stringValue == "2.0")
        #expect(claims["exp"]?.stringValue == nil)
        #expect(claims["missing"] == nil)

        let mapping = UsernameMapping(transforms: [.stripDomain, .uppercase])
        #expect(mapping.username(from: claims) == .success("JANE.DOE"))
        #expect(UsernameMapping(claim: .upn).username(from: claims).error?.kind == .missingClaim)
    }

    @Test(
        "kind names describe each value without its contents",
        arguments: [
            (ClaimValue.null, "null"), (.bool(false), "a boolean"), (.number(1), "a number"), (.string("x"), "a string"),
            (.array([]), "an array"), (.object([:]), "an object"),
        ])
    func kindNames(value: ClaimValue, name: String) {
        #expect(value.kindName == name)
    }
}

extension Result {
    fileprivate var error: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
