import Foundation

/// Microsoft Entra ID sign-in (OpenID Connect authorization code flow with PKCE). Also works
/// with any standards-compliant OpenID provider through ``discoveryURL``.
public struct EntraConfig: ConfigSection, Sendable {
    /// How the gateway proves who it is at the token endpoint.
    public enum Credential: Sendable {
        case secret(Secret)
        /// `private_key_jwt`: a client assertion signed with the certificate's key (Entra's
        /// recommended credential; nothing reusable crosses the wire).
        case certificate(ClientCertificateConfig)
    }

    /// What to do when Entra leaves the `groups` claim out because the user is in too many
    /// groups (the "overage" claim is set instead).
    public enum GroupsOverage: String, Sendable, CaseIterable {
        /// Ask Microsoft Graph for the user's transitive memberships (needs `User.Read`).
        case graph
        /// Refuse the sign-in: group-based rules cannot be applied without the groups.
        case deny
        /// Sign in with no groups.
        case ignore
    }

    public enum ResponseMode: String, Sendable, CaseIterable {
        /// Code in the callback's query string; works with `SameSite=Lax` cookies.
        case query
        /// Code in a cross-site POST; pending-login cookies must then be `SameSite=None; Secure`.
        case formPost = "form_post"
    }

    /// Tenant GUID, verified domain, `organizations` or `common`.
    public var tenant: String
    /// Tenants (GUIDs) whose users may sign in; empty means any tenant the app accepts.
    public var allowedTenants: [String]
    public var clientId: String
    public var credential: Credential
    /// When the client secret expires (Entra shows it with the secret), for warnings from
    /// 30 days before; nil when not given.
    public var clientSecretExpiresAt: Date?
    public var authority: HTTPURL
    /// Full discovery document URL, replacing `{authority}/{tenant}/v2.0/.well-known/...`.
    public var discoveryURL: HTTPURL?
    public var scopes: [String]
    public var responseMode: ResponseMode
    public var groupsOverage: GroupsOverage
    /// Microsoft Graph's base URL (sovereign clouds and tests override it).
    public var graphURL: HTTPURL
    public var username: UsernameMapping
    /// Timeout for each call to the provider (discovery, keys, token, Graph).
    public var requestTimeout: Double

    public static let defaultAuthority = "https://login.microsoftonline.com"
    public static let defaultScopes = ["openid", "profile", "email", "offline_access"]

    public static var fields: [ConfigField] {
        [
            .value("tenant"), .value("allowedTenants"), .value("clientId"),
            .value("clientSecretFile"), .value("clientSecretEnv"), .value("clientSecretExpiresAt"),
            .object("clientCertificate", ClientCertificateConfig.self),
            .value("authority"), .value("discoveryURL"), .value("scopes"), .value("responseMode"),
            .value("groupsOverage"), .value("graphURL"),
            .object("username", UsernameConfig.self),
            .value("requestTimeout"),
        ]
    }

    /// Whether the tenant setting admits users of several tenants, so the issuer is a
    /// `{tenantid}` template rather than one fixed value.
    public var isMultiTenant: Bool { ["organizations", "common"].contains(tenant.lowercased()) }

    /// The OpenID discovery document to read.
    public var effectiveDiscoveryURL: String {
        if let discoveryURL { return discoveryURL.description }
        return "\(authority.description)/\(tenant)/v2.0/.well-known/openid-configuration"
    }

    public init(reading reader: ConfigObjectReader) {
        tenant = reader.string("tenant") ?? ""
        if !reader.has("tenant") && !reader.has("discoveryURL") {
            reader.fail("tenant", "required: a tenant GUID, a verified domain, \"organizations\" or \"common\"")
        } else if reader.has("tenant") && !Self.isValidTenant(tenant) {
            reader.fail("tenant", "\"\(tenant)\" is not a tenant GUID, a domain name, \"organizations\" or \"common\"")
        }
        if tenant.lowercased() == "consumers" {
            reader.fail("tenant", "\"consumers\" admits personal Microsoft accounts only; use a tenant, \"organizations\" or \"common\"")
        }
        allowedTenants = []
        for (index, value) in reader.stringArrayWithIndices("allowedTenants") {
            if UUID(uuidString: value) == nil {
                reader.fail("allowedTenants[\(index)]", "\"\(value)\" is not a tenant GUID")
            } else {
                allowedTenants.append(value.lowercased())
            }
        }
        clientId = reader.string("clientId") ?? ""
        if clientId.isEmpty {
            reader.fail("clientId", "required: the application (client) id of the app registration")
        }
        let secret = reader.secret("clientSecret")
        let certificate: ClientCertificateConfig? = reader.optionalSection("clientCertificate")
        switch (secret, certificate) {
        case (let secret?, nil): credential = .secret(secret)
        case (nil, let certificate?): credential = .certificate(certificate)
        case (.some, .some):
            reader.failHere("give either clientSecretFile/clientSecretEnv or clientCertificate, not both")
            credential = .secret(Secret(""))
        case (nil, nil):
            if !reader.has("clientSecretFile") && !reader.has("clientSecretEnv") {
                reader.failHere("a client credential is required: clientSecretFile, clientSecretEnv or clientCertificate")
            }
            credential = .secret(Secret(""))
        }
        if let text = reader.string("clientSecretExpiresAt") {
            if let date = CredentialExpiry.parseDate(text) {
                clientSecretExpiresAt = date
            } else {
                reader.fail("clientSecretExpiresAt", "\"\(TextCheck.quotable(text))\" is not a date (2027-06-30) or an ISO 8601 timestamp")
            }
            if case .certificate = credential { reader.fail("clientSecretExpiresAt", "is for a client secret, and this app uses a certificate") }
        }
        authority = Self.url(reader, "authority", default: Self.defaultAuthority)
        discoveryURL = reader.has("discoveryURL") ? Self.url(reader, "discoveryURL", default: "") : nil
        graphURL = Self.url(reader, "graphURL", default: "https://graph.microsoft.com")
        scopes = reader.has("scopes") ? reader.stringArray("scopes") : Self.defaultScopes
        if !scopes.contains("openid") {
            reader.fail("scopes", "must include \"openid\" (without it there is no ID token)")
        }
        for (index, scope) in scopes.enumerated() where scope.isEmpty || scope.contains(where: { $0 == " " || $0.isNewline }) {
            reader.fail("scopes[\(index)]", "a scope is one non-empty word")
        }
        responseMode = ResponseMode(
            rawValue: reader.choice("responseMode", default: "query", among: ResponseMode.allCases.map(\.rawValue)))
            ?? .query
        groupsOverage = GroupsOverage(
            rawValue: reader.choice("groupsOverage", default: "deny", among: GroupsOverage.allCases.map(\.rawValue)))
            ?? .deny
        if groupsOverage == .graph && !scopes.contains(where: { $0.lowercased().hasSuffix("user.read") }) {
            reader.fail("groupsOverage", "\"graph\" needs the \"User.Read\" scope in scopes to call Microsoft Graph")
        }
        let usernameConfig: UsernameConfig = reader.section("username")
        username = usernameConfig.mapping
        requestTimeout = reader.seconds("requestTimeout", default: 10, in: 0.1...120)
    }

    private static func url(_ reader: ConfigObjectReader, _ key: String, default value: String) -> HTTPURL {
        let text = reader.string(key) ?? value
        switch HTTPURL.parse(text) {
        case .success(let url): return url
        case .failure(let failure):
            reader.fail(key, failure.reason)
            return HTTPURL(scheme: "https", host: "invalid", port: 443, path: "")
        }
    }

    static func isValidTenant(_ value: String) -> Bool {
        if UUID(uuidString: value) != nil { return true }
        if ["organizations", "common"].contains(value.lowercased()) { return true }
        // A verified domain: dot-separated DNS labels.
        let labels = value.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }
}

/// A certificate credential: the PEM certificate registered on the app, and its private key.
public struct ClientCertificateConfig: ConfigSection, Sendable {
    public var certificatePEM: String
    public var privateKey: Secret

    public static var fields: [ConfigField] {
        [.value("certificateFile"), .value("privateKeyFile"), .value("privateKeyEnv")]
    }

    public init(reading reader: ConfigObjectReader) {
        certificatePEM = reader.pemFile("certificateFile", holding: .certificate) ?? ""
        if !reader.has("certificateFile") {
            reader.fail("certificateFile", "required: the PEM certificate uploaded to the app registration")
        }
        if let key = reader.secret("privateKey") {
            privateKey = key
            if !key.value.contains("PRIVATE KEY-----") {
                reader.fail(reader.has("privateKeyFile") ? "privateKeyFile" : "privateKeyEnv", "is not a PEM private key")
            }
        } else {
            privateKey = Secret("")
            if !reader.has("privateKeyFile") && !reader.has("privateKeyEnv") {
                reader.fail("privateKeyFile", "required: the certificate's PEM private key (or privateKeyEnv)")
            }
        }
    }
}

/// `entra.username`: how the host-system username is formed from the ID token.
public struct UsernameConfig: ConfigSection, Sendable {
    public var mapping: UsernameMapping

    public static var fields: [ConfigField] { [.value("claim"), .value("transforms"), .value("overrides")] }

    public init(reading reader: ConfigObjectReader) {
        let claim = UsernameClaim(
            rawValue: reader.choice(
                "claim", default: UsernameClaim.preferredUsername.rawValue, among: UsernameClaim.allCases.map(\.rawValue)))
            ?? .preferredUsername
        var transforms: [UsernameTransform] = []
        for (index, value) in reader.stringArrayWithIndices("transforms") {
            if let transform = UsernameTransform(rawValue: value) {
                transforms.append(transform)
            } else {
                let known = UsernameTransform.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                reader.fail("transforms[\(index)]", "\"\(value)\" is not one of \(known)")
            }
        }
        var overrides: [String: String] = [:]
        if let object = reader.object("overrides") {
            for (key, value) in object {
                guard let username = value.stringValue else {
                    reader.fail("overrides.\(key)", "must be a string (the host-system username)")
                    continue
                }
                if case .failure(let error) = UsernameMapping.checked(username, claim: claim.rawValue) {
                    reader.fail("overrides.\(key)", error.description.replacingOccurrences(of: "from the \"\(claim.rawValue)\" claim ", with: ""))
                }
                overrides[key] = username
            }
            for duplicate in UsernameMapping.caseInsensitiveDuplicateKeys(overrides) {
                reader.fail("overrides.\(duplicate)", "another key differs from it only in letter case")
            }
        }
        mapping = UsernameMapping(claim: claim, transforms: transforms, overrides: overrides)
    }
}
