/// The ID-token claim a host-system username is taken from. Raw values are the claim names,
/// as they appear in the token and in the config.
public enum UsernameClaim: String, Sendable, CaseIterable {
    /// Entra's default sign-in name, usually the UPN. Not guaranteed unique or immutable,
    /// but it is what legacy systems were provisioned with.
    case preferredUsername = "preferred_username"
    /// Only present when configured as an optional claim.
    case upn
    /// Entra does not verify `email` and users or guests may be able to set it: mapping it to
    /// a username lets whoever controls the mailbox field choose their host account.
    case email
    /// The immutable object id: unique and safe, but not human-readable.
    case oid
}

/// A step applied, in order, to the claim value to form the username.
public enum UsernameTransform: String, Sendable, CaseIterable {
    /// Unicode lowercasing, locale-independent (the same on every server).
    case lowercase
    /// Unicode uppercasing, locale-independent (`ß` becomes `SS`).
    case uppercase
    /// Drops everything from the last `@`: `jane.doe@contoso.org` becomes `jane.doe`.
    /// Beware: `jdoe@contoso.org` and a guest's `jdoe@fabrikam.com` then map to the same
    /// username; pair it with a tenant policy or overrides when guests can sign in. The
    /// *last* `@` is used so a quoted local part (`"admin@x"@evil.com`) cannot shorten to
    /// `admin`.
    case stripDomain
}

/// Maps ID-token claims to the exact username a host system expects.
///
/// Legacy upstreams identify users by a login name that often differs from the Entra UPN
/// (`JDOE` rather than `jane.doe@contoso.org`), so the gateway takes one claim, applies
/// transforms, and lets an override table settle the exceptions. The result is checked
/// because it ends up in an identity header: control characters could split the header,
/// and an empty or whitespace-padded name could match the wrong account on a host that
/// trims.
public struct UsernameMapping: Sendable {
    public let claim: UsernameClaim
    public let transforms: [UsernameTransform]
    /// Raw claim value → username, as configured. Keys match case-insensitively because
    /// Entra preserves whatever casing an admin typed into the UPN.
    public let overrides: [String: String]
    private let overrideLookup: [String: String]

    /// - Parameters:
    ///   - claim: the claim holding the username; `preferred_username` by default.
    ///   - transforms: applied in order to the claim value; none by default.
    ///   - overrides: exact usernames for specific raw claim values, used instead of the
    ///     transforms. Keys that differ only in case should be rejected by config
    ///     validation (see ``caseInsensitiveDuplicateKeys(_:)``); if present anyway, the
    ///     key that sorts first wins, so the choice is at least the same on every start.
    public init(
        claim: UsernameClaim = .preferredUsername, transforms: [UsernameTransform] = [], overrides: [String: String] = [:]
    ) {
        self.claim = claim
        self.transforms = transforms
        self.overrides = overrides
        var lookup: [String: String] = [:]
        for key in overrides.keys.sorted(by: >) {
            lookup[key.lowercased()] = overrides[key]
        }
        overrideLookup = lookup
    }

    /// The username for a signed-in user, or why none can be formed (the session must not
    /// be created then: guessing a name could sign the user in as someone else).
    public func username(from claims: [String: ClaimValue]) -> Result<String, UsernameMappingError> {
        guard let value = claims[claim.rawValue] else {
            return .failure(UsernameMappingError(claim: claim.rawValue, kind: .missingClaim))
        }
        guard case .string(let raw) = value else {
            return .failure(UsernameMappingError(claim: claim.rawValue, kind: .notAString(found: value.kindName)))
        }
        if let override = overrideLookup[raw.lowercased()] {
            return Self.checked(override, claim: claim.rawValue)
        }
        var username = raw
        for transform in transforms {
            switch transform {
            case .lowercase: username = username.lowercased()
            case .uppercase: username = username.uppercased()
            case .stripDomain:
                if let at = username.lastIndex(of: "@") { username = String(username[..<at]) }
            }
        }
        return Self.checked(username, claim: claim.rawValue)
    }

    /// A route's own username for a signed-in identity, from the claims the identity kept
    /// (`preferred_username`, `upn`, `email`, `oid`).
    public func username(for identity: Identity) -> Result<String, UsernameMappingError> {
        let value: String?
        switch claim {
        case .preferredUsername: value = identity.preferredUsername
        case .upn: value = identity.upn
        case .email: value = identity.email
        case .oid: value = identity.objectId
        }
        return username(from: value.map { [claim.rawValue: ClaimValue.string($0)] } ?? [:])
    }

    /// Override keys equal except for case, sorted, for config validation to report.
    public static func caseInsensitiveDuplicateKeys(_ overrides: [String: String]) -> [String] {
        Dictionary(grouping: overrides.keys, by: { $0.lowercased() }).values
            .filter { $0.count > 1 }
            .flatMap { $0 }
            .sorted()
    }

    static func checked(_ username: String, claim: String) -> Result<String, UsernameMappingError> {
        if username.isEmpty { return .failure(UsernameMappingError(claim: claim, kind: .empty)) }
        for scalar in username.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator:
                return .failure(UsernameMappingError(claim: claim, kind: .controlCharacters))
            default: continue
            }
        }
        if username.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            return .failure(UsernameMappingError(claim: claim, kind: .whitespaceOnly))
        }
        if let first = username.unicodeScalars.first, let last = username.unicodeScalars.last,
            first.properties.isWhitespace || last.properties.isWhitespace
        {
            return .failure(UsernameMappingError(claim: claim, kind: .surroundingWhitespace))
        }
        return .success(username)
    }
}

/// Why no username could be formed. Names the claim but never quotes its value or the
/// token, which must stay out of logs.
public struct UsernameMappingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case missingClaim
        /// The claim is present with another JSON type (its kind name, e.g. "a number").
        case notAString(found: String)
        /// Empty claim, or empty after transforms (`@contoso.org` with `stripDomain`).
        case empty
        case whitespaceOnly
        case surroundingWhitespace
        /// C0/C1 controls or Unicode line and paragraph separators.
        case controlCharacters
    }

    /// The claim's name, such as `preferred_username`.
    public var claim: String
    public var kind: Kind

    public init(claim: String, kind: Kind) {
        self.claim = claim
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .missingClaim: "the ID token has no \"\(claim)\" claim to take the username from"
        case .notAString(let found): "the ID token's \"\(claim)\" claim is \(found), not a string"
        case .empty: "the username from the \"\(claim)\" claim is empty"
        case .whitespaceOnly: "the username from the \"\(claim)\" claim is only whitespace"
        case .surroundingWhitespace: "the username from the \"\(claim)\" claim starts or ends with whitespace"
        case .controlCharacters: "the username from the \"\(claim)\" claim contains control characters"
        }
    }
}
