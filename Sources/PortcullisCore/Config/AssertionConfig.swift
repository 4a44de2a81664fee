import Foundation

/// `assertion`: the signed identity assertion (an ES256 JWT) the gateway sends each
/// upstream, so an upstream can verify who the user is instead of trusting plain headers.
///
/// The key file is read with the config, like `session.keysFile` and `localUsers.file`: an
/// unreadable file fails the load (a reload keeps the running keys) and the file is among
/// those a reload watches. Core has no cryptography, so only the text is checked here;
/// `AssertionKeys(pem:)` in PortcullisAuth parses the keys (curve, encryption).
public struct AssertionConfig: ConfigSection, Sendable {
    /// A PEM file of EC P-256 private keys (PKCS#8 or SEC1), as written in the config; the
    /// first signs, the others are only published in the JWKS (rotation). Nil: one key is
    /// generated per start, and upstreams must fetch the JWKS again after every restart.
    public var keyFile: String?
    /// The text of ``keyFile``; a ``Secret`` so that printing the config cannot show it.
    public var keyPEM: Secret?
    /// Seconds an assertion is valid: long enough for one request, short enough that a
    /// captured assertion is soon worthless.
    public var lifetime: Int
    /// The `aud` claim for every route; nil: each route's name is its audience.
    public var audience: String?

    public static let lifetimeRange = 5...600

    public static var fields: [ConfigField] { [.value("keyFile"), .value("lifetime"), .value("audience")] }

    public init(keyFile: String? = nil, keyPEM: Secret? = nil, lifetime: Int = 60, audience: String? = nil) {
        self.keyFile = keyFile
        self.keyPEM = keyPEM
        self.lifetime = lifetime
        self.audience = audience
    }

    public init(reading reader: ConfigObjectReader) {
        keyFile = reader.string("keyFile")
        keyPEM = reader.pemFile(
            "keyFile", holding: .privateKey,
            hint: keyFile.map { "make one with `portcullis assertion-key generate --file \($0)`, or leave keyFile out for a key generated at each start" }
        ).map(Secret.init)
        lifetime = reader.int("lifetime", default: 60, in: Self.lifetimeRange)
        audience = reader.string("audience")
        if audience?.isEmpty == true {
            reader.fail("audience", "must not be empty (leave it out to use each route's name)")
            audience = nil
        }
    }

    /// The `aud` claim for a route: the configured audience, else the route's name.
    public func audience(forRoute routeName: String) -> String { audience ?? routeName }
}
