/// OpenID Connect discovery and the JWKS, shaped like Entra's v2.0 documents.
struct DiscoveryEndpoint {
    let authority: DevIdPAuthority

    /// For a specific tenant every URL uses its GUID, even when asked by domain (as Entra
    /// does). For `organizations`/`common` the issuer is the literal `{tenantid}` template:
    /// a multi-tenant client must substitute each token's `tid` before comparing `iss`.
    func configuration(segment: String, tenant: TenantSegment) -> DevIdPResponse {
        let base = authority.baseURL
        let pathTenant = tenant.tenantID ?? segment.lowercased()
        let issuer = authority.issuer(tenantID: tenant.tenantID ?? "{tenantid}")
        let strings = { (values: [String]) in JSONValue.array(values.map(JSONValue.string)) }
        return .json(
            .object([
                ("token_endpoint", .string("\(base)/\(pathTenant)/oauth2/v2.0/token")),
                ("token_endpoint_auth_methods_supported", strings(["client_secret_post", "private_key_jwt", "client_secret_basic"])),
                ("jwks_uri", .string("\(base)/\(pathTenant)/discovery/v2.0/keys")),
                ("response_modes_supported", strings(["query", "fragment", "form_post"])),
                ("subject_types_supported", strings(["pairwise"])),
                ("id_token_signing_alg_values_supported", strings(["RS256"])),
                ("response_types_supported", strings(["code"])),
                ("scopes_supported", strings(["openid", "profile", "email", "offline_access"])),
                ("issuer", .string(issuer)),
                ("request_uri_parameter_supported", .bool(false)),
                ("authorization_endpoint", .string("\(base)/\(pathTenant)/oauth2/v2.0/authorize")),
                ("end_session_endpoint", .string("\(base)/\(pathTenant)/oauth2/v2.0/logout")),
                ("frontchannel_logout_supported", .bool(true)),
                ("http_logout_supported", .bool(true)),
                ("code_challenge_methods_supported", strings(["S256"])),
                ("claims_supported", strings(Self.claims)),
                ("tenant_region_scope", .null),
                ("cloud_instance_name", .string("microsoftonline.com")),
                ("cloud_graph_host_name", .string("graph.windows.net")),
                ("msgraph_host", .string(Self.hostAndPort(base))),
                ("rbac_url", .string("https://pas.windows.net")),
            ]))
    }

    func keys() -> DevIdPResponse {
        .json(authority.state.withLockedValue { $0.keys.jwks })
    }

    static let claims = [
        "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
        "aud", "exp", "iat", "auth_time", "acr", "acrs", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
        "c_hash", "email", "oid", "sid", "roles", "groups", "upn",
    ]

    /// `http://127.0.0.1:9100` → `127.0.0.1:9100`: Graph is served by the IdP itself.
    static func hostAndPort(_ base: String) -> String {
        guard let scheme = base.range(of: "://") else { return base }
        return String(base[scheme.upperBound...])
    }
}
