/// The shape of a bcrypt hash in modular-crypt form: `$2b$12$` then 53 characters of
/// bcrypt's base64 (22 of salt, 31 of hash).
///
/// Only the shape is checked here, at config load, so that a truncated paste or a hash of
/// another kind (`$argon2id$…`, `$6$…`) is a config error rather than a user who can never
/// sign in. Verifying a password is the sign-in endpoint's work.
public enum BcryptHash {
    /// Lowest cost accepted: each step doubles the work of guessing from a stolen file.
    public static let minimumCost = 12
    /// The prefixes bcrypt implementations write; all verify alike.
    public static let versions = ["$2a$", "$2b$", "$2y$"]

    /// Why `hash` is not acceptable, or nil when it is. Never quotes the hash.
    public static func problem(with hash: String) -> String? {
        guard let cost = cost(of: hash) else { return "not a bcrypt hash" }
        if cost < minimumCost { return "bcrypt cost \(cost) is below the minimum of \(minimumCost)" }
        if cost > 31 { return "bcrypt cost \(cost) is above the maximum of 31" }
        return nil
    }

    /// The cost of a well-formed hash, nil when the shape is wrong.
    public static func cost(of hash: String) -> Int? {
        let bytes = Array(hash.utf8)
        guard bytes.count == 7 + 53, versions.contains(String(decoding: bytes[0..<4], as: UTF8.self)),
            bytes[6] == UInt8(ascii: "$"),
            let tens = digit(bytes[4]), let ones = digit(bytes[5]),
            bytes[7...].allSatisfy(isBcryptBase64)
        else { return nil }
        return tens * 10 + ones
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    private static func isBcryptBase64(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "/"):
            true
        default: false
        }
    }
}
