/// A directory tenant. Its GUID is what tokens carry in `tid` and `iss`; its domains are
/// accepted in place of the GUID in endpoint paths, as Entra accepts verified domains.
public struct DevIdPTenant: Codable, Sendable {
    /// Tenant id (GUID).
    public var id: String
    /// Verified domains, e.g. `["contoso.example"]`.
    public var domains: [String]

    public init(id: String, domains: [String] = []) {
        self.id = id
        self.domains = domains
    }
}
