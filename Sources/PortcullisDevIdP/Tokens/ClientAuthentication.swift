import Crypto
import CryptoExtras
import Foundation

/// Authenticates the client at the token endpoint by one of the methods Entra accepts:
/// `client_secret_post`, `client_secret_basic` or `private_key_jwt`.
///
/// The assertion checks follow Entra's certificate credentials: PS256 only (the algorithm
/// Entra recommends and the one a gateway should send), the certificate named by its
/// SHA-256 thumbprint, the token endpoint as audience, a short lifetime and a `jti` that is
/// never accepted twice, so a captured assertion cannot be replayed.
struct ClientAuthentication {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Entra refuses assertions valid for longer than ten minutes.
    static let maximumAssertionLifetime: TimeInterval = 600
    /// Tolerated clock difference for `nbf`/`iat` in the future.
    static let clockSkew: TimeInterval = 60

    let authority: DevIdPAuthority
    let now: Date

    /// - Parameter audiences: the URLs this token endpoint answers to; an assertion's `aud`
    ///   must be one of them.
    func authenticate(_ request: DevIdPRequest, form: FormParameters, audiences: [String]) throws(EntraError) -> DevIdPClient {
        let basic = try basicCredentials(request)
        let secret = form.value("client_secret")
        let assertion = form.value("client_assertion")
        let assertionJWT = assertion.flatMap(CompactJWT.init)
        if assertion != nil && assertionJWT == nil {
            throw invalidClient(50027, "Invalid JWT token. The client assertion is not a well-formed JWT.")
        }
        let methods = [basic != nil, secret != nil, assertion != nil].filter { $0 }.count
        if methods > 1 {
            throw EntraError("invalid_request", 90014, "Only one client authentication method may be used per request.")
        }
        let claimedIDs = [basic?.id, form.value("client_id"), assertionJWT?.payload["iss"]?.stringValue].compactMap { $0 }
        guard let clientID = claimedIDs.first else { throw EntraError.missingParameter("client_id") }
        if claimedIDs.contains(where: { $0 != clientID }) {
            throw invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
        }
        guard let client = authority.state.withLockedValue({ $0.directory.client(clientID) }) else {
            throw invalidClient(700016, "Application with identifier '\(clientID)' was not found in the directory.")
        }
        if let presented = basic?.secret ?? secret {
            guard let expected = client.clientSecret, Self.constantTimeEqual(presented, expected) else {
                throw invalidClient(
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientID)'."
                )
            }
        } else if let assertionJWT {
            try verify(assertionJWT, type: form["client_assertion_type"], client: client, audiences: audiences)
        } else if client.isConfidential {
            throw invalidClient(
                7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        }
        return client
    }

    private func verify(_ jwt: CompactJWT, type: String?, client: DevIdPClient, audiences: [String]) throws(EntraError) {
        guard type == Self.assertionType else {
            throw invalidClient(50027, "Invalid client_assertion_type; expected '\(Self.assertionType)'.")
        }
        guard let pem = client.certificatePEM, let certificate = try? ClientCertificate(pem: pem) else {
            throw invalidClient(700027, "Client assertion failed signature validation: no certificate is registered for the application.")
        }
        let algorithm = jwt.header["alg"]?.stringValue ?? "none"
        guard algorithm == "PS256" else {
            throw invalidClient(5002738, "Invalid JWT token. '\(algorithm)' is not a supported signature algorithm. Supported signing algorithms are: 'PS256'.")
        }
        guard jwt.header["x5t#S256"]?.stringValue == certificate.thumbprintSHA256 else {
            throw invalidClient(700027, "The certificate with identifier used to sign the client assertion is not registered on application.")
        }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: jwt.signature)
        guard certificate.publicKey.isValidSignature(signature, for: SHA256.hash(data: jwt.signingInput), padding: .PSS) else {
            throw invalidClient(700027, "Client assertion failed signature validation.")
        }
        let claims = jwt.payload
        guard claims["iss"]?.stringValue == client.clientId, claims["sub"]?.stringValue == client.clientId else {
            throw invalidClient(700021, "Client assertion 'iss' and 'sub' must both be the application identifier.")
        }
        let audience: [String]
        switch claims["aud"] {
        case .string(let value): audience = [value]
        case .array(let values): audience = values.compactMap(\.stringValue)
        default: audience = []
        }
        guard audience.count == 1, audiences.contains(audience[0]) else {
            throw invalidClient(50027, "Invalid JWT token. The audience must be the token endpoint '\(audiences.first ?? "")'.")
        }
        guard let expires = claims["exp"]?.numberValue.map(Date.init(timeIntervalSince1970:)), expires > now else {
            throw invalidClient(700024, "Client assertion is not within its valid time range (expired or no 'exp').")
        }
        guard let start = (claims["nbf"] ?? claims["iat"])?.numberValue.map(Date.init(timeIntervalSince1970:)),
            start <= now + Self.clockSkew, expires.timeIntervalSince(start) <= Self.maximumAssertionLifetime
        else {
            throw invalidClient(700024, "Client assertion is not within its valid time range (needs 'nbf' or 'iat', at most 10 minutes before 'exp').")
        }
        guard let jti = claims["jti"]?.stringValue, !jti.isEmpty else {
            throw invalidClient(50027, "Invalid JWT token. The client assertion has no 'jti'.")
        }
        let fresh = authority.state.withLockedValue { $0.ledger.recordAssertionID(jti, expires: expires, now: now) }
        guard fresh else {
            throw invalidClient(50027, "Invalid JWT token. The client assertion 'jti' has already been used.")
        }
    }

    /// `Authorization: Basic` credentials, form-urlencoded inside as RFC 6749 §2.3.1 says.
    private func basicCredentials(_ request: DevIdPRequest) throws(EntraError) -> (id: String, secret: String)? {
        guard let header = request.headers.first(name: "authorization") else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
        guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
            let id = FormCoding.decode(text[..<colon]), let secret = FormCoding.decode(text[text.index(after: colon)...])
        else { throw invalidClient(7000215, "Malformed HTTP Basic client credentials.") }
        return (id, secret)
    }

    private func invalidClient(_ code: Int, _ message: String) -> EntraError {
        EntraError("invalid_client", code, message, status: .unauthorized)
    }

    /// Compares secrets without an early exit, so response time does not reveal a prefix.
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
