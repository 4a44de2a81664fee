/// Who may use a protected route: `allow` rules (any one grants; none configured grants anyone
/// signed in) and `deny` rules (any one refuses, whatever `allow` says). Pure: the admission
/// asks it once per request and audits the rule that decided.
public struct RoutePolicy: Sendable, Equatable {
    public var allow: [AccessRule]
    public var deny: [AccessRule]

    public init(allow: [AccessRule] = [], deny: [AccessRule] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// No rules: every signed-in user passes without evaluating anything.
    public var admitsEveryone: Bool { allow.isEmpty && deny.isEmpty }

    public enum Decision: Sendable, Equatable {
        /// `rule` is the allow rule that matched, nil when the route has none.
        case allowed(rule: String?)
        /// `rule` names what decided (a deny rule, or `allow` when no allow rule matched);
        /// `reason` is the audit line's sentence.
        case denied(rule: String, reason: String)
    }

    public func decide(_ identity: Identity, method: String, clientAddress: () -> IPAddress?) -> Decision {
        for rule in deny where rule.matches(identity, method: method, clientAddress: clientAddress) {
            return .denied(rule: rule.name, reason: "deny rule \"\(rule.name)\" matched")
        }
        if allow.isEmpty { return .allowed(rule: nil) }
        for rule in allow where rule.matches(identity, method: method, clientAddress: clientAddress) {
            return .allowed(rule: rule.name)
        }
        return .denied(rule: "allow", reason: "no allow rule matched (\(allow.map(\.name).joined(separator: ", ")))")
    }
}
