/// The signing key in use and, after a rotation, the one before it.
///
/// Entra publishes the outgoing key for a while after rolling over, so clients that cache
/// the JWKS keep validating older tokens; a gateway must also refetch the JWKS when it
/// meets an unknown `kid`. Rotating with and without `keepPrevious` tests both paths.
struct SigningKeyRing: Sendable {
    private(set) var current: SigningKey
    private(set) var previous: SigningKey?

    init(current: SigningKey) { self.current = current }

    mutating func rotate(to key: SigningKey, keepPrevious: Bool) {
        previous = keepPrevious ? current : nil
        current = key
    }

    var published: [SigningKey] { [current] + (previous.map { [$0] } ?? []) }

    var jwks: JSONValue { .object([("keys", .array(published.map(\.jwk)))]) }

    /// Whether one of the published keys signed this token (for `id_token_hint`).
    func verifies(_ jwt: CompactJWT) -> Bool {
        guard jwt.header["alg"]?.stringValue == "RS256" else { return false }
        let kid = jwt.header["kid"]?.stringValue
        return published.contains { $0.kid == kid && $0.verifies(jwt) }
    }
}
