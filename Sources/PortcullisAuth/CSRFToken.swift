import Foundation
import PortcullisCore

/// Cross-site request forgery protection for the gateway's own forms: a random secret in an
/// HttpOnly, SameSite=Strict cookie, and in each form that secret sealed for the form's
/// purpose. A page on another site can make the browser post the cookie, but cannot read it
/// or the form, so it cannot produce a token that opens to the same secret.
public enum CSRFToken {
    /// A new browser secret for the cookie.
    public static func newBrowserSecret() -> String { RandomToken.string(byteCount: 16) }

    /// The token for forms of `purpose` in the browser holding `browserSecret`.
    public static func token(browserSecret: String, purpose: String, keyRing: KeyRing) -> String {
        keyRing.seal(Array(browserSecret.utf8), context: context(purpose))
    }

    /// Whether `token` was made for this browser and purpose (under any key of the ring, so a
    /// form rendered just before a key rotation still posts).
    public static func verify(_ token: String, browserSecret: String, purpose: String, keyRing: KeyRing) -> Bool {
        guard !browserSecret.isEmpty, let opened = keyRing.open(token, context: context(purpose)) else { return false }
        return IDTokenValidator.constantTimeEquals(String(decoding: opened, as: UTF8.self), browserSecret)
    }

    private static func context(_ purpose: String) -> String { "portcullis csrf " + purpose }
}
