import Foundation

/// One sign-in in progress, between the redirect to the provider and the callback. It
/// travels sealed in its own short-lived cookie, named after its `state`, so several tabs
/// can sign in at once without overwriting each other's state.
public struct PendingLogin: Sendable, Codable, Equatable {
    /// Bound to the authorization request; checked (and consumed) at the callback.
    public var state: String
    public var nonce: String
    public var codeVerifier: String
    /// Where to go after sign-in: already validated by the RedirectGuard.
    public var returnTo: String
    /// Unix seconds; the pending login expires ``lifetime`` after this.
    public var created: Int64
    /// The authentication context this sign-in asked Entra for (step-up), if any: a callback
    /// whose ID token lacks it is refused rather than sent back to a route that would ask again.
    public var authContext: String?

    /// How long a user may take at the provider's sign-in page.
    public static let lifetime: Int64 = 600
    /// Pending-login cookies kept per browser; starting another drops the oldest, so
    /// abandoned sign-ins cannot pile up until requests exceed header limits.
    public static let maximumPerBrowser = 4
    static let sealContext = "portcullis pending-login"

    public init(returnTo: String, now: Int64) {
        state = RandomToken.string()
        nonce = RandomToken.string()
        codeVerifier = PKCE().verifier
        self.returnTo = returnTo
        created = now
    }

    /// The cookie holding this login: `prefix` plus the first characters of `state`, enough
    /// to find it at the callback; the full state is compared inside the sealed value.
    public static func cookieName(prefix: String, state: Substring) -> String {
        prefix + state.prefix(12)
    }

    public func sealed(with ring: KeyRing) -> String {
        ring.seal(try! JSONEncoder().encode(self), context: Self.sealContext)
    }

    /// Opens a pending-login cookie; nil when it is not one of ours, or expired.
    public static func open(_ value: some StringProtocol, with ring: KeyRing, now: Int64) -> PendingLogin? {
        guard let plaintext = ring.open(value, context: sealContext),
            let login = try? JSONDecoder().decode(PendingLogin.self, from: Data(plaintext)),
            now >= login.created - 60, now < login.created + lifetime
        else { return nil }
        return login
    }
}
