/// `sso`: the single-sign-on switch, who is exempt from it, and the sign-in page.
///
/// Single sign-on is the rule; local passwords (`localUsers`) are the exception: while
/// `enabled` is true only ``excludedUsers`` may use theirs, and turning it off is the
/// emergency switch for when Entra cannot be used at all (see ``LocalPasswordPolicy``).
public struct SSOConfig: ConfigSection, Sendable, Equatable {
    /// What `/.portcullis/login` shows first.
    public enum LoginPage: String, Sendable, CaseIterable {
        /// Straight to Entra (local users reach the password form by its own link).
        case direct
        /// Ask for the email or username first, then send local users to the password form
        /// and everyone else to Entra with it as the login hint.
        case emailFirst
    }

    /// Whether Entra sign-in is in force. False: SSO is off, every enabled local user may
    /// sign in with a password.
    public var enabled: Bool
    /// Local users (usernames or emails) who sign in with their password even while SSO is
    /// on, in ``AccountName`` canonical form.
    public var excludedUsers: [String]
    /// Whether switching SSO off also ends the sessions made by SSO sign-in.
    public var offEndsSessions: Bool
    /// Consecutive failed Entra sign-ins (unreachable, timeouts, 5xx) after which local
    /// sign-in opens to every local user until Entra answers again. Nil: never.
    public var autoFallbackAfter: Int?
    public var loginPage: LoginPage
    /// Sent to Entra as `domain_hint`, to skip its account picker for one organisation.
    public var domainHint: String?
    public var branding: BrandingConfig

    public static var fields: [ConfigField] {
        [
            .value("enabled"), .value("excludedUsers"), .value("offEndsSessions"), .value("autoFallbackAfter"),
            .value("loginPage"), .value("domainHint"), .object("branding", BrandingConfig.self),
        ]
    }

    public init(
        enabled: Bool = true, excludedUsers: [String] = [], offEndsSessions: Bool = false, autoFallbackAfter: Int? = nil,
        loginPage: LoginPage = .direct, domainHint: String? = nil, branding: BrandingConfig = BrandingConfig()
    ) {
        self.enabled = enabled
        self.excludedUsers = excludedUsers.map(AccountName.canonical)
        self.offEndsSessions = offEndsSessions
        self.autoFallbackAfter = autoFallbackAfter
        self.loginPage = loginPage
        self.domainHint = domainHint
        self.branding = branding
    }

    public init(reading reader: ConfigObjectReader) {
        enabled = reader.bool("enabled", default: true)
        excludedUsers = []
        for (index, entry) in reader.stringArrayWithIndices("excludedUsers") {
            let name = AccountName.canonical(entry)
            if name.isEmpty {
                reader.fail("excludedUsers[\(index)]", "must not be empty")
            } else {
                excludedUsers.append(name)
            }
        }
        offEndsSessions = reader.bool("offEndsSessions", default: false)
        autoFallbackAfter = nil
        if reader.has("autoFallbackAfter") {
            let count = reader.int("autoFallbackAfter", default: 0, in: 1...100)
            autoFallbackAfter = count == 0 ? nil : count
        }
        loginPage = LoginPage(rawValue: reader.choice("loginPage", default: "direct", among: LoginPage.allCases.map(\.rawValue))) ?? .direct
        domainHint = reader.string("domainHint").map { $0.lowercased() }
        if let hint = domainHint, !SessionConfig.isDomain(hint) {
            reader.fail("domainHint", "\"\(TextCheck.quotable(hint))\" is not a domain name (such as \"contoso.example\")")
            domainHint = nil
        }
        branding = reader.section("branding")
    }

    /// Whether `user` is listed in ``excludedUsers`` by username or email.
    public func excludes(_ user: LocalUser) -> Bool {
        excludedUsers.contains { user.isNamed($0) }
    }
}
