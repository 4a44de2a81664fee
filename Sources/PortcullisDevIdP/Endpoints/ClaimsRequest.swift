import Foundation

/// The OIDC `claims` authorize parameter (OpenID Connect Core §5.5), read for the one request
/// the development IdP acts on: Entra's Conditional Access authentication contexts,
/// `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}` or `…"values":["c1","c2"]…`.
///
/// Other requested claims are ignored, as Entra ignores them. A parameter that is not JSON, or
/// whose `id_token.acrs` is shaped otherwise, is refused with `invalid_request`: a gateway bug
/// should fail here, not yield a token that silently lacks the step-up it asked for.
enum ClaimsRequest {
    /// The authentication context ids asked for in the ID token, in request order without
    /// repeats; empty when there is no `claims` parameter or it asks for none.
    static func authenticationContexts(_ text: String?) throws(EntraError) -> [String] {
        guard let text else { return [] }
        guard let request = JSONValue.parse(Data(text.utf8)), case .object = request else {
            throw invalid("The 'claims' parameter is not a JSON object.")
        }
        guard let idToken = request["id_token"], idToken != .null else { return [] }
        guard case .object = idToken else { throw invalid("'claims.id_token' must be a JSON object.") }
        guard let acrs = idToken["acrs"], acrs != .null else { return [] }
        guard case .object = acrs else {
            throw invalid("'claims.id_token.acrs' must be a JSON object with 'value' or 'values'.")
        }
        switch acrs["essential"] {
        case nil, .bool?: break
        default: throw invalid("'claims.id_token.acrs.essential' must be true or false.")
        }
        var requested: [String] = []
        if let value = acrs["value"] {
            guard let id = value.stringValue else { throw invalid("'claims.id_token.acrs.value' must be a string.") }
            requested.append(id)
        }
        if let values = acrs["values"] {
            guard case .array(let items) = values, items.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid("'claims.id_token.acrs.values' must be an array of strings.")
            }
            requested += items.compactMap(\.stringValue)
        }
        if let wrong = requested.first(where: { !isContextID($0) }) {
            throw invalid("'\(wrong)' is not an authentication context id: they are 'c1' to 'c99'.")
        }
        var seen = Set<String>()
        return requested.filter { seen.insert($0).inserted }
    }

    /// Entra's authentication context ids are `c1` through `c99`, exactly so spelled.
    static func isContextID(_ id: String) -> Bool {
        guard id.hasPrefix("c"), let number = Int(id.dropFirst()), (1...99).contains(number) else { return false }
        return id == "c\(number)"
    }

    private static func invalid(_ message: String) -> EntraError {
        EntraError("invalid_request", 90023, "Invalid 'claims' parameter: \(message)")
    }
}
