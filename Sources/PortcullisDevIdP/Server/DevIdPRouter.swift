import NIOHTTP1

/// Maps request paths to endpoints, Entra's layout: `/{tenant}/v2.0/.well-known/…`,
/// `/{tenant}/discovery/v2.0/keys`, `/{tenant}/oauth2/v2.0/{authorize,token,logout}`, plus
/// Graph's `/v1.0/me/transitiveMemberOf` and the demo's `/.devidp/rotate-keys`.
struct DevIdPRouter: Sendable {
    let authority: DevIdPAuthority

    func respond(to request: DevIdPRequest) -> DevIdPResponse {
        let segments = request.segments
        if segments == ["v1.0", "me", "transitiveMemberOf"] {
            return GraphEndpoint(authority: authority).transitiveMemberOf(request)
        }
        if segments == [".devidp", "rotate-keys"] {
            guard request.method == .POST else {
                var response = DevIdPResponse.json(
                    .object([("error", .string("method_not_allowed")), ("error_description", .string("Use POST."))]),
                    status: .methodNotAllowed)
                response.headers.append(("Allow", "POST"))
                return response
            }
            do {
                let kid = try authority.rotateSigningKey(keepPrevious: true)
                return .json(.object([("kid", .string(kid))]))
            } catch {
                return .error(EntraError("server_error", 90000, "Key generation failed.", status: .internalServerError))
            }
        }
        guard let segment = segments.first else { return .notFound }
        enum Endpoint { case discovery, keys, authorize, token, logout }
        let endpoint: Endpoint
        switch Array(segments.dropFirst()) {
        case ["v2.0", ".well-known", "openid-configuration"]: endpoint = .discovery
        case ["discovery", "v2.0", "keys"]: endpoint = .keys
        case ["oauth2", "v2.0", "authorize"]: endpoint = .authorize
        case ["oauth2", "v2.0", "token"]: endpoint = .token
        case ["oauth2", "v2.0", "logout"]: endpoint = .logout
        default: return .notFound
        }
        guard let tenant = authority.state.withLockedValue({ $0.directory.tenantSegment(segment) }) else {
            return .error(.tenantNotFound(segment))
        }
        switch endpoint {
        case .discovery: return DiscoveryEndpoint(authority: authority).configuration(segment: segment, tenant: tenant)
        case .keys: return DiscoveryEndpoint(authority: authority).keys()
        case .authorize: return AuthorizeEndpoint(authority: authority).respond(to: request, segment: segment, tenant: tenant)
        case .token: return TokenEndpoint(authority: authority).respond(to: request, segment: segment, tenant: tenant)
        case .logout: return LogoutEndpoint(authority: authority).respond(to: request, segment: segment, tenant: tenant)
        }
    }
}
