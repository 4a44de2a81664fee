/// An application registration: how the client authenticates and where the IdP may send
/// the browser. Redirect URIs match exactly, as in Entra, so a test can prove a gateway
/// sends precisely the URI it registered.
///
/// In a directory file `clientSecret`, `certificatePEM`, `postLogoutRedirectURIs` and
/// `frontchannelLogoutURL` may be omitted. A client with neither a secret nor a
/// certificate is a public client: it redeems codes with PKCE alone.
public struct DevIdPClient: Codable, Sendable {
    public var clientId: String
    /// Accepted as `client_secret` in the token request body or via HTTP Basic.
    public var clientSecret: String?
    /// PEM certificate whose RSA key verifies `private_key_jwt` client assertions; the
    /// assertion's `x5t#S256` header must be the SHA-256 thumbprint of this certificate.
    public var certificatePEM: String?
    public var redirectURIs: [String]
    public var postLogoutRedirectURIs: [String]
    /// Loaded in a hidden iframe on sign-out with `iss` and `sid` (OIDC Front-Channel Logout).
    public var frontchannelLogoutURL: String?

    public init(
        clientId: String, clientSecret: String? = nil, certificatePEM: String? = nil, redirectURIs: [String],
        postLogoutRedirectURIs: [String] = [], frontchannelLogoutURL: String? = nil
    ) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.certificatePEM = certificatePEM
        self.redirectURIs = redirectURIs
        self.postLogoutRedirectURIs = postLogoutRedirectURIs
        self.frontchannelLogoutURL = frontchannelLogoutURL
    }

    private enum CodingKeys: String, CodingKey {
        case clientId, clientSecret, certificatePEM, redirectURIs, postLogoutRedirectURIs, frontchannelLogoutURL
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            clientId: try container.decode(String.self, forKey: .clientId),
            clientSecret: try container.decodeIfPresent(String.self, forKey: .clientSecret),
            certificatePEM: try container.decodeIfPresent(String.self, forKey: .certificatePEM),
            redirectURIs: try container.decode([String].self, forKey: .redirectURIs),
            postLogoutRedirectURIs: try container.decodeIfPresent([String].self, forKey: .postLogoutRedirectURIs) ?? [],
            frontchannelLogoutURL: try container.decodeIfPresent(String.self, forKey: .frontchannelLogoutURL))
    }

    /// A confidential client must authenticate at the token endpoint.
    var isConfidential: Bool { clientSecret != nil || certificatePEM != nil }
}
