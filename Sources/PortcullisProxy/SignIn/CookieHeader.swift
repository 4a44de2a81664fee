/// Reading and rewriting `Cookie` request headers, and writing `Set-Cookie`.
enum CookieHeader {
    /// The `name=value` pairs of `Cookie` header values, in order. Malformed pairs are
    /// skipped; values are not decoded (ours are base64url).
    static func pairs<S: Sequence>(_ values: S) -> [(name: Substring, value: Substring)] where S.Element == String {
        var result: [(Substring, Substring)] = []
        forEachPair(values) { name, value in
            result.append((name, value))
            return true
        }
        return result
    }

    /// Visits the `name=value` pairs in order until `body` returns false. Builds no array,
    /// for the per-request session check.
    static func forEachPair<S: Sequence>(_ values: S, _ body: (Substring, Substring) -> Bool) where S.Element == String {
        for header in values {
            for part in header.split(separator: ";") {
                let trimmed = part.drop(while: { $0 == " " || $0 == "\t" })
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                var value = trimmed[trimmed.index(after: equals)...]
                while value.last == " " || value.last == "\t" { value = value.dropLast() }
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                guard body(trimmed[..<equals], value) else { return }
            }
        }
    }

    /// A `Cookie` header value without the gateway's own cookies, or nil when nothing is
    /// left: the upstream application must never see (or log) session handles.
    static func removing(_ isOurs: (Substring) -> Bool, from value: String) -> String? {
        var kept: [Substring] = []
        var changed = false
        for part in value.split(separator: ";") {
            let trimmed = part.drop(while: { $0 == " " || $0 == "\t" })
            let name = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? trimmed
            if isOurs(name) {
                changed = true
            } else if !trimmed.isEmpty {
                kept.append(trimmed)
            }
        }
        if !changed { return value }
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }
}

/// How the gateway's cookies are named and flagged.
struct CookieSettings: Sendable {
    let sessionName: String
    /// Pending-login cookies are this prefix plus the start of their `state`.
    let pendingPrefix: String
    let secure: Bool
    /// `SameSite` for pending-login cookies: `None` when the provider answers with a
    /// cross-site form POST (which would not carry `Lax` cookies).
    let pendingSameSite: String
    /// Nil: a browser-session cookie (no Max-Age).
    let sessionMaxAge: Int?
    /// `Domain` of the session cookie, to share it across hosts; nil: host-only.
    let sessionDomain: String?

    init(sessionCookieName: String, secure: Bool, formPost: Bool, sessionMaxAge: Int?, sessionDomain: String? = nil) {
        // `__Host-` binds the cookie to this exact origin: no subdomain can set or shadow it.
        // A cookie shared across hosts cannot have it; `__Secure-` still demands `Secure`.
        let prefix = secure ? "__Host-" : ""
        sessionName = (secure ? (sessionDomain == nil ? "__Host-" : "__Secure-") : "") + sessionCookieName
        pendingPrefix = prefix + sessionCookieName + "_login_"
        self.secure = secure
        pendingSameSite = formPost && secure ? "None" : "Lax"
        self.sessionMaxAge = sessionMaxAge
        self.sessionDomain = sessionDomain
    }

    func isOurs(_ name: Substring) -> Bool {
        name == sessionName || name.hasPrefix(pendingPrefix)
    }

    func setCookie(_ name: String, value: String, maxAge: Int?, sameSite: String = "Lax") -> String {
        var text = "\(name)=\(value); Path=/"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if name == sessionName, let sessionDomain { text += "; Domain=\(sessionDomain)" }
        text += "; HttpOnly; SameSite=\(sameSite)"
        if secure { text += "; Secure" }
        return text
    }

    func deleteCookie(_ name: some StringProtocol) -> String {
        setCookie(String(name), value: "", maxAge: 0)
    }
}
