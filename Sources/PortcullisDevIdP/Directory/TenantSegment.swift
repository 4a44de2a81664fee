/// What the `{tenant}` path segment of an endpoint names.
///
/// Entra serves one tenant's users under its GUID or domain, and anybody's under
/// `organizations` and `common`; a gateway configured with one of the multi-tenant
/// segments must validate `iss` against the `{tenantid}` template, which is why discovery
/// answers differ.
enum TenantSegment: Sendable {
    case tenant(DevIdPTenant)
    case organizations
    case common

    /// The tenant this segment pins, if any.
    var tenantID: String? {
        if case .tenant(let tenant) = self { return tenant.id }
        return nil
    }

    func allows(_ user: DevIdPUser) -> Bool {
        guard let tenantID else { return true }
        return user.tid.lowercased() == tenantID.lowercased()
    }
}

extension DevIdPDirectory {
    /// Resolves a path segment case-insensitively; `nil` for an unknown tenant (AADSTS90002).
    func tenantSegment(_ segment: String) -> TenantSegment? {
        let lowered = segment.lowercased()
        switch lowered {
        case "organizations": return .organizations
        case "common": return .common
        default:
            let tenant = tenants.first {
                $0.id.lowercased() == lowered || $0.domains.contains { $0.lowercased() == lowered }
            }
            return tenant.map(TenantSegment.tenant)
        }
    }
}
