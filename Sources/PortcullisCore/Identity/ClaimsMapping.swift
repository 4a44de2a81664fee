/// Turns a validated ID token's claims into an ``Identity``.
///
/// Claim values are untrusted text that ends up in upstream request headers, so every
/// value is checked the way the username is: a control character would split the header,
/// letting a user who can edit their display name inject headers of their choice.
public struct ClaimsMapping: Sendable {
    public let username: UsernameMapping

    public init(username: UsernameMapping) {
        self.username = username
    }

    public enum Outcome: Sendable, Equatable {
        case identity(Identity)
        /// Entra left the groups out (more than the token can carry); the caller decides,
        /// per `groupsOverage`, whether to ask Microsoft Graph for them.
        case groupsOverage(Identity)
        case rejected(String)
    }

    public func identity(from claims: [String: ClaimValue]) -> Outcome {
        let name: String
        switch username.username(from: claims) {
        case .success(let value): name = value
        case .failure(let error): return .rejected(error.description)
        }
        var identity = Identity(username: name, method: .sso)
        for (claim, keyPath) in [("email", \Identity.email), ("name", \.displayName), ("oid", \.objectId), ("tid", \.tenantId), ("sub", \.subject), ("upn", \.upn)] {
            guard let value = claims[claim] else { continue }
            guard let text = value.stringValue else { return .rejected("the \"\(claim)\" claim is \(value.kindName), not a string") }
            guard IdentityHeaderValue.isSafe(text) else { return .rejected("the \"\(claim)\" claim contains control characters") }
            if !text.isEmpty { identity[keyPath: keyPath] = text }
        }
        switch Self.stringList(claims["roles"], claim: "roles") {
        case .success(let roles): identity.roles = roles
        case .failure(let reason): return .rejected(reason.message)
        }
        switch Self.stringList(claims["groups"], claim: "groups") {
        case .success(let groups): identity.groups = groups
        case .failure(let reason): return .rejected(reason.message)
        }
        if case .string(let preferred)? = claims["preferred_username"], IdentityHeaderValue.isSafe(preferred), !preferred.isEmpty {
            identity.preferredUsername = preferred
        }
        // Authentication contexts only ever widen access, so an unreadable `acrs` counts as none.
        if case .success(let contexts) = Self.stringList(claims["acrs"], claim: "acrs") { identity.authContexts = contexts }
        if claims["groups"] == nil && Self.signalsGroupsOverage(claims) {
            return .groupsOverage(identity)
        }
        return .identity(identity)
    }

    /// Entra v2 ID tokens mark overage with `_claim_names.groups`; implicit-flow tokens use
    /// `hasgroups: true`.
    public static func signalsGroupsOverage(_ claims: [String: ClaimValue]) -> Bool {
        if case .object(let names)? = claims["_claim_names"], names["groups"] != nil { return true }
        return claims["hasgroups"]?.boolValue == true
    }

    struct Reason: Error { var message: String }

    static func stringList(_ value: ClaimValue?, claim: String) -> Result<[String], Reason> {
        guard let value else { return .success([]) }
        guard case .array(let items) = value else { return .failure(Reason(message: "the \"\(claim)\" claim is \(value.kindName), not an array")) }
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue, !text.isEmpty, IdentityHeaderValue.isSafe(text), !text.contains(",") else {
                return .failure(Reason(message: "the \"\(claim)\" claim holds a value that is not a plain string"))
            }
            result.append(text)
        }
        return .success(result)
    }
}
