/// Who may sign in with a local password right now, decided without I/O from the user
/// found for the typed name, the `sso` settings and whether Entra is deemed down.
///
/// Local passwords are a way around single sign-on, so by default almost nobody has one
/// that works: while SSO is on, only the accounts listed in `sso.excludedUsers` (service
/// desks, the break-glass administrator) may use theirs. Turning SSO off (`sso.enabled:
/// false`), or the automatic fallback while Entra is unreachable (`sso.autoFallbackAfter`),
/// opens local sign-in to every enabled local user. A disabled user never signs in.
public enum LocalPasswordPolicy {
    /// - Parameters:
    ///   - user: the local user the typed name matched, nil when none did.
    ///   - fallbackActive: whether the automatic fallback is in force (Entra unreachable).
    public static func verdict(for user: LocalUser?, sso: SSOConfig, fallbackActive: Bool) -> LocalPasswordVerdict {
        guard let user else { return .refused(.unknownUser) }
        if user.disabled { return .refused(.disabled) }
        if !sso.enabled || fallbackActive || sso.excludes(user) { return .allowed }
        return .refused(.inactiveBecauseSSO)
    }
}

/// The answer of ``LocalPasswordPolicy``.
public enum LocalPasswordVerdict: Sendable, Equatable {
    case allowed
    case refused(LocalRefusal)
}

/// Why a local password may not be used. The reason goes to the audit log only: the person
/// signing in sees one message for every refusal (and for a wrong password), so the form
/// does not reveal which names exist or are excluded.
public enum LocalRefusal: Sendable, Equatable {
    case unknownUser
    case disabled
    /// A local user not in `sso.excludedUsers` while SSO is on: they sign in with Entra.
    case inactiveBecauseSSO

    /// A short reason class for audit queries (`inactive_because_sso`, …).
    public var reasonClass: String {
        switch self {
        case .unknownUser: "unknown_user"
        case .disabled: "disabled"
        case .inactiveBecauseSSO: "inactive_because_sso"
        }
    }

    public var reason: String {
        switch self {
        case .unknownUser: "no local user has this username or email"
        case .disabled: "the local user is disabled"
        case .inactiveBecauseSSO: "single sign-on is on and the user is not in sso.excludedUsers"
        }
    }
}
