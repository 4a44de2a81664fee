import PortcullisCore
import Testing

@testable import PortcullisProxy

/// A refresh must never change who a session is: the fresh claims name the same account, or
/// the session ends.
@Suite("Revalidation: the same account")
struct AccountChangeTests {
    static let alice = Identity(
        username: "alice", objectId: "A11CE000-0000-4000-8000-000000000001", tenantId: "7c000000-0000-4000-8000-000000000001", method: .sso,
        subject: "sub-alice")

    @Test(
        "sub always, oid and tid when present",
        arguments: [
            (["sub": "sub-alice", "oid": "a11ce000-0000-4000-8000-000000000001", "tid": "7C000000-0000-4000-8000-000000000001"], nil),
            (["sub": "sub-alice"], nil),
            (["sub": "sub-mallory"], "sub changed"),
            ([:], "no sub"),
            (["sub": "sub-alice", "oid": "b0b00000-0000-4000-8000-000000000002"], "oid changed"),
            (["sub": "sub-alice", "tid": "8d000000-0000-4000-8000-000000000002"], "tid changed"),
        ] as [([String: String], String?)])
    func sameAccount(claims: [String: String], expected: String?) {
        let change = EntraSignIn.accountChange(from: Self.alice, to: claims.mapValues(ClaimValue.string))
        if let expected {
            #expect(change?.contains(expected) == true, "\(change ?? "nil")")
        } else {
            #expect(change == nil)
        }
    }

    @Test("a session stored before sub was kept is still checked on oid and tid")
    func legacySession() {
        var legacy = Self.alice
        legacy.subject = nil
        #expect(EntraSignIn.accountChange(from: legacy, to: ["sub": .string("anything")]) == nil)
        #expect(EntraSignIn.accountChange(from: legacy, to: ["sub": .string("x"), "oid": .string("b0b00000-0000-4000-8000-000000000002")]) != nil)
    }
}
