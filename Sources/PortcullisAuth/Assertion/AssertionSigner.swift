import Crypto
import Foundation
import PortcullisCore

/// Signs identity assertions with ES256 under the signing key of an ``AssertionKeys`` set:
/// header `{"alg":"ES256","kid":…,"typ":"JWT"}`, the `kid` being the key's RFC 7638
/// thumbprint as published in the JWKS.
///
/// Synchronous (swift-crypto directly, not jwt-kit's async key collection): the data plane
/// signs on its event loop when its per-loop cache misses, without suspending the request.
/// Upstreams verify with any JOSE library (the tests use jwt-kit against the served JWKS).
public struct AssertionSigner: Sendable {
    public let keys: AssertionKeys
    /// The base64url JOSE header, the same for every assertion of this key.
    private let header: String

    public init(keys: AssertionKeys) {
        self.keys = keys
        header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(keys.signingKey.kid)","typ":"JWT"}"#.utf8))
    }

    /// The signed compact JWT: one JSON encoding and one ECDSA P-256 signature (raw `r‖s`,
    /// RFC 7518 §3.4).
    public func sign(_ claims: AssertionClaims) throws -> String {
        let payload = try JSONEncoder().encode(claims)
        let input = header + "." + Base64URL.encode(Array(payload))
        let signature = try keys.signingKey.privateKey.signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(Array(signature.rawRepresentation))
    }
}
