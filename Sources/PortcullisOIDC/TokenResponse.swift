import Foundation
import PortcullisCore

/// A token endpoint's successful answer.
public struct TokenResponse: Sendable {
    /// Always present after a code exchange (checked there); a refresh may come without one
    /// (Entra sends one, some providers do not).
    public var idToken: String?
    public var accessToken: String?
    public var refreshToken: String?
    /// Seconds the access token lives.
    public var expiresIn: Int?

    init(json data: Data) throws(ProviderError) {
        guard case .object(let document)? = try? JSONValue.parse(data) else {
            throw ProviderError(.badResponse, "the token endpoint's answer is not JSON")
        }
        idToken = document["id_token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        accessToken = document["access_token"]?.stringValue
        refreshToken = document["refresh_token"]?.stringValue
        expiresIn = document["expires_in"]?.numberValue.map { Int($0) } ?? document["expires_in"]?.stringValue.flatMap { Int($0) }
    }

    /// Reads an OAuth error answer (RFC 6749 §5.2, with Entra's extra fields).
    static func error(status: UInt, json data: Data) -> ProviderError {
        guard case .object(let document)? = try? JSONValue.parse(data), let code = document["error"]?.stringValue else {
            return ProviderError(.badResponse, "the token endpoint answered HTTP \(status)")
        }
        let codes = (document["error_codes"].flatMap { value -> [Int]? in
            guard case .array(let items) = value else { return nil }
            return items.compactMap { $0.numberValue.map { Int($0) } }
        }) ?? []
        return ProviderError(
            .oauth, "the token endpoint refused the request", oauthError: safeWord(code), errorCodes: codes,
            correlationID: document["correlation_id"]?.stringValue.flatMap(safeWord))
    }

    /// Keeps provider-chosen text that ends in logs and pages to a harmless token.
    public static func safeWord(_ text: String) -> String? {
        let allowed = text.prefix(80).filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
        return allowed.isEmpty ? nil : String(allowed)
    }
}
