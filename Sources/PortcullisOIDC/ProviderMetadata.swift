import Foundation
import PortcullisCore

/// The parts of an OpenID discovery document the gateway uses.
public struct ProviderMetadata: Sendable, Equatable {
    public var issuer: String
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var jwksURI: String
    public var endSessionEndpoint: String?
    /// Where fresh claims come from when a refresh returns no ID token (OIDC Core §5.3).
    public var userinfoEndpoint: String?
    /// Client authentication methods the token endpoint accepts (OIDC default:
    /// `client_secret_basic` when the document says nothing).
    public var tokenEndpointAuthMethods: [String]

    public init(json data: Data) throws(ProviderError) {
        guard case .object(let document)? = try? JSONValue.parse(data) else {
            throw ProviderError(.badResponse, "the discovery document is not a JSON object")
        }
        func url(_ key: String) throws(ProviderError) -> String {
            guard let text = document[key]?.stringValue, case .success = HTTPURL.parse(text.components(separatedBy: "?")[0]) else {
                throw ProviderError(.badResponse, "the discovery document has no valid \(key)")
            }
            return text
        }
        guard let issuer = document["issuer"]?.stringValue, !issuer.isEmpty else {
            throw ProviderError(.badResponse, "the discovery document has no issuer")
        }
        self.issuer = issuer
        authorizationEndpoint = try url("authorization_endpoint")
        tokenEndpoint = try url("token_endpoint")
        jwksURI = try url("jwks_uri")
        endSessionEndpoint = document["end_session_endpoint"] == nil ? nil : try url("end_session_endpoint")
        userinfoEndpoint = document["userinfo_endpoint"] == nil ? nil : try url("userinfo_endpoint")
        tokenEndpointAuthMethods = document["token_endpoint_auth_methods_supported"]?.stringArrayValue ?? ["client_secret_basic"]
    }
}
