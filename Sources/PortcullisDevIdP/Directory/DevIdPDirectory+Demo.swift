extension DevIdPDirectory {
    /// Contoso's tenant id in the demo directory.
    public static let demoContosoTenantID = "c0a70500-0000-4000-8000-000000000001"
    /// Fabrikam's tenant id in the demo directory.
    public static let demoFabrikamTenantID = "fab41ca0-0000-4000-8000-000000000002"

    /// A ready directory for `portcullis demo`: one user per behaviour a gateway must handle.
    ///
    /// - alice: roles `Repairs.Read`, `Repairs.Write`; two groups.
    /// - bob: no roles, one group (a gateway requiring a role must refuse him).
    /// - carol: group overage with five groups (only reachable through Graph).
    /// - dave: not assigned to the app (AADSTS50105 at sign-in).
    /// - erin: a Fabrikam user (for tenant restrictions).
    ///
    /// Ids are fixed so configs and tests can name them.
    public static func demo(
        clientId: String, clientSecret: String, redirectURI: String, postLogoutRedirectURI: String?,
        frontchannelLogoutURL: String?
    ) -> DevIdPDirectory {
        let contoso = demoContosoTenantID
        let fabrikam = demoFabrikamTenantID
        func group(_ n: Int) -> String { "9a000000-0000-4000-8000-00000000000\(n)" }
        return DevIdPDirectory(
            tenants: [
                DevIdPTenant(id: contoso, domains: ["contoso.example"]),
                DevIdPTenant(id: fabrikam, domains: ["fabrikam.example"]),
            ],
            clients: [
                DevIdPClient(
                    clientId: clientId, clientSecret: clientSecret, redirectURIs: [redirectURI],
                    postLogoutRedirectURIs: postLogoutRedirectURI.map { [$0] } ?? [],
                    frontchannelLogoutURL: frontchannelLogoutURL)
            ],
            users: [
                DevIdPUser(
                    key: "alice", preferredUsername: "alice@contoso.example", name: "Alice Archer",
                    email: "alice@contoso.example", upn: "alice@contoso.example",
                    oid: "a11ce000-0000-4000-8000-000000000001", tid: contoso,
                    roles: ["Repairs.Read", "Repairs.Write"], groups: [group(1), group(2)]),
                DevIdPUser(
                    key: "bob", preferredUsername: "bob@contoso.example", name: "Bob Baker",
                    email: "bob@contoso.example", oid: "b0b00000-0000-4000-8000-000000000002", tid: contoso,
                    groups: [group(1)]),
                DevIdPUser(
                    key: "carol", preferredUsername: "carol@contoso.example", name: "Carol Carter",
                    email: "carol@contoso.example", oid: "ca201000-0000-4000-8000-000000000003", tid: contoso,
                    roles: ["Repairs.Read"], groups: (1...5).map(group), groupOverage: true),
                DevIdPUser(
                    key: "dave", preferredUsername: "dave@contoso.example", name: "Dave Dunn",
                    oid: "da7e0000-0000-4000-8000-000000000004", tid: contoso, signInError: "AADSTS50105"),
                DevIdPUser(
                    key: "erin", preferredUsername: "erin@fabrikam.example", name: "Erin Evans",
                    email: "erin@fabrikam.example", oid: "e2140000-0000-4000-8000-000000000005", tid: fabrikam,
                    roles: ["Repairs.Read"], groups: [group(6)]),
            ])
    }
}
