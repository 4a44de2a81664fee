import Crypto
import Foundation
import PortcullisCore

/// Time-based one-time passwords (RFC 6238, HMAC-SHA-1, as every authenticator app
/// implements them): the second factor of local users who have a `totpSecret`.
///
/// Written over swift-crypto's HMAC rather than taken from HummingbirdOTP, which depends on
/// HummingbirdAuth and so on the whole Hummingbird framework, minutes of build for thirty
/// lines of arithmetic.
public enum TOTP {
    /// The code for time step `step`: HMAC-SHA-1 of the step as a big-endian 64-bit counter,
    /// dynamically truncated (RFC 4226 §5.3) to `digits` decimal digits, zero-padded.
    public static func code(secret: [UInt8], step: Int64, digits: Int = 6) -> String {
        precondition((1...9).contains(digits), "TOTP codes have 1 to 9 digits")
        let counter = withUnsafeBytes(of: UInt64(bitPattern: step).bigEndian) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: counter, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let truncated = (UInt32(mac[offset]) & 0x7F) << 24 | UInt32(mac[offset + 1]) << 16
            | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(truncated % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The time step `date` falls in: whole `period`s since the Unix epoch.
    public static func step(at date: Date, period: Int = 30) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// The step whose code `code` is, searching `window` steps either side of `date`'s (clock
    /// drift between phone and server); nil when none matches, or when the match is at or
    /// before `lastUsedStep`, so a code seen once (over a shoulder, in a proxy log) cannot be
    /// replayed. The caller stores the returned step as the new `lastUsedStep`.
    ///
    /// Every candidate is compared in full, in constant time, so timing reveals neither
    /// which step matched nor how many digits did. Spaces in `code` are ignored (apps show
    /// `123 456`).
    public static func verify(
        _ code: String, secret: [UInt8], at date: Date, window: Int = 1, notAfterOrAt lastUsedStep: Int64?, digits: Int = 6
    ) -> Int64? {
        let typed = Array(code.utf8.filter { $0 != UInt8(ascii: " ") })
        guard typed.count == digits, typed.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        let now = step(at: date)
        var matched: Int64?
        for offset in -window...window {
            let candidate = now + Int64(offset)
            let expected = Array(self.code(secret: secret, step: candidate, digits: digits).utf8)
            var difference: UInt8 = 0
            for index in 0..<digits { difference |= expected[index] ^ typed[index] }
            let isFresh = lastUsedStep.map { candidate > $0 } ?? true
            if difference == 0 && isFresh { matched = candidate }
        }
        return matched
    }

    /// A new secret: 160 random bits, the size RFC 4226 recommends.
    public static func newSecret() -> [UInt8] {
        RandomToken.bytes(20)
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code, with the defaults
    /// spelt out (SHA1, 6 digits, 30 s) because some apps ignore absent ones differently.
    public static func otpauthURI(secret: [UInt8], account: String, issuer: String) -> String {
        let label = percentEncoded(issuer) + ":" + percentEncoded(account)
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(percentEncoded(issuer))&algorithm=SHA1&digits=6&period=30"
    }

    /// Everything but RFC 3986 unreserved characters percent-encoded (so `:`, `@`, `&` and
    /// spaces in names cannot change the URI's structure).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
