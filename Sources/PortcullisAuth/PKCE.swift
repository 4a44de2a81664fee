import Crypto
import PortcullisCore

/// Proof Key for Code Exchange (RFC 7636), always `S256`: an intercepted authorization
/// code is useless without the verifier, which never leaves the gateway until the exchange.
public struct PKCE: Sendable, Equatable {
    public let verifier: String
    public var challenge: String { Self.challenge(for: verifier) }
    public static let method = "S256"

    public init(verifier: String = RandomToken.string()) {
        self.verifier = verifier
    }

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array(verifier.utf8)))
    }
}
