/// A failed call to the OpenID provider or Microsoft Graph. Descriptions are safe to show
/// and log: they never contain tokens, codes or secrets.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No answer (connection refused, timeout): "sign-in is unavailable".
        case unreachable
        /// An answer the gateway cannot use (bad JSON, 5xx, missing fields).
        case badResponse
        /// A standard OAuth error answer (`invalid_grant`, `invalid_client`, ...).
        case oauth
    }

    public var kind: Kind
    public var message: String
    /// For `.oauth`: the `error` code, Entra's AADSTS numbers and correlation id.
    public var oauthError: String?
    public var errorCodes: [Int]
    public var correlationID: String?

    public init(_ kind: Kind, _ message: String, oauthError: String? = nil, errorCodes: [Int] = [], correlationID: String? = nil) {
        self.kind = kind
        self.message = message
        self.oauthError = oauthError
        self.errorCodes = errorCodes
        self.correlationID = correlationID
    }

    public var description: String {
        var text = message
        if let oauthError { text += " (\(oauthError)" + errorCodes.map { ", AADSTS\($0)" }.joined() + ")" }
        return text
    }
}
