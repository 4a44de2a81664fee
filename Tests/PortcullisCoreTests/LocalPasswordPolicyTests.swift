import Foundation
import Testing

@testable import PortcullisCore

/// Who may use a local password: SSO on/off × excluded or not × disabled × fallback, and
/// names that match nobody.
@Suite("Local password policy")
struct LocalPasswordPolicyTests {
    static let excluded = LocalUser(username: "BreakGlass", passwordHash: exampleHash)
    static let excludedByEmail = LocalUser(username: "desk", passwordHash: exampleHash, email: "Desk@Contoso.example")
    static let ordinary = LocalUser(username: "carol", passwordHash: exampleHash, email: "carol@contoso.example")

    static func disabled(_ user: LocalUser) -> LocalUser {
        var user = user
        user.disabled = true
        return user
    }

    static func sso(enabled: Bool) -> SSOConfig {
        SSOConfig(enabled: enabled, excludedUsers: [" breakglass ", "DESK@contoso.example"])
    }

    @Test("the table", arguments: [
        // (user, SSO on, fallback active, expected)
        (excluded, true, false, LocalPasswordVerdict.allowed),
        (excludedByEmail, true, false, .allowed),
        (ordinary, true, false, .refused(.inactiveBecauseSSO)),
        (ordinary, false, false, .allowed),
        (excluded, false, false, .allowed),
        (ordinary, true, true, .allowed),
        (excluded, true, true, .allowed),
        (ordinary, false, true, .allowed),
        (disabled(excluded), true, false, .refused(.disabled)),
        (disabled(ordinary), false, false, .refused(.disabled)),
        (disabled(ordinary), true, true, .refused(.disabled)),
        (disabled(excluded), false, true, .refused(.disabled)),
    ] as [(LocalUser, Bool, Bool, LocalPasswordVerdict)])
    func table(user: LocalUser, ssoOn: Bool, fallback: Bool, expected: LocalPasswordVerdict) {
        #expect(LocalPasswordPolicy.verdict(for: user, sso: Self.sso(enabled: ssoOn), fallbackActive: fallback) == expected)
    }

    @Test("an unknown name is refused whatever the switches say", arguments: [(true, false), (false, false), (true, true), (false, true)])
    func unknown(ssoOn: Bool, fallback: Bool) {
        #expect(LocalPasswordPolicy.verdict(for: nil, sso: Self.sso(enabled: ssoOn), fallbackActive: fallback) == .refused(.unknownUser))
    }

    @Test("exclusion matches canonically, on the username or the email")
    func exclusionIsCanonical() {
        let sso = SSOConfig(excludedUsers: ["ｃａｒｏｌ＠contoso.example"])
        #expect(sso.excludedUsers == ["carol@contoso.example"])
        #expect(sso.excludes(Self.ordinary))
        #expect(!sso.excludes(Self.excluded))
        #expect(!SSOConfig().excludes(Self.ordinary))
    }

    @Test("each refusal has an audit reason")
    func reasons() {
        let reasons = [LocalRefusal.unknownUser, .disabled, .inactiveBecauseSSO].map(\.reason)
        #expect(Set(reasons).count == 3 && reasons.allSatisfy { !$0.isEmpty })
    }
}
