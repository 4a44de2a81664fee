import Foundation

/// `session`: the session cookie and how long a sign-in lasts.
public struct SessionConfig: ConfigSection, Sendable {
    /// Cookie name; with an https public URL the gateway adds the `__Host-` prefix, which
    /// browsers only accept with `Secure`, `Path=/` and no `Domain` (no subdomain can then
    /// plant or overwrite it).
    public var cookieName: String
    /// A file of sealing keys, one base64 256-bit key per line; the first seals, all open.
    /// Nil: a random key per start (sessions end at restart).
    public var keysFile: String?
    /// Sealing keys read from ``keysFile`` (raw 32-byte keys).
    public var keys: [[UInt8]]
    /// Longest a session lives after sign-in, however active.
    public var absoluteTimeout: Double
    /// A session unused this long ends.
    public var idleTimeout: Double
    /// Most sessions kept in memory; the least recently used go first beyond it.
    public var maxSessions: Int
    /// `Domain` attribute for the session cookie, to share it across hosts under one domain
    /// (then `__Secure-` rather than `__Host-` on https). Nil: host-only.
    public var cookieDomain: String?
    /// Whether the session cookie outlives the browser (Max-Age = absoluteTimeout) or is a
    /// browser-session cookie, gone when the browser closes.
    public var persistentCookie: Bool
    /// Seconds after which a session's identity is confirmed again with Entra (refresh token).
    public var revalidateEvery: Double
    /// Seconds past a due revalidation that a session keeps working while Entra is unreachable.
    public var outageGrace: Double
    /// Where sessions live beyond the in-process cache.
    public var store: SessionStoreConfig

    public static var fields: [ConfigField] {
        [
            .value("cookieName"), .value("cookieDomain"), .value("persistentCookie"), .value("keysFile"),
            .value("absoluteTimeout"), .value("idleTimeout"), .value("revalidateEvery"), .value("outageGrace"),
            .value("maxSessions"), .object("store", SessionStoreConfig.self),
        ]
    }

    public init(reading reader: ConfigObjectReader) {
        cookieName = reader.string("cookieName", default: "portcullis_session")
        if !Self.isCookieName(cookieName) {
            reader.fail("cookieName", "\"\(cookieName)\" is not a valid cookie name (letters, digits, - and _)")
        } else if cookieName.hasPrefix("__") {
            reader.fail("cookieName", "leave out the __Host-/__Secure- prefix; the gateway adds it for https")
        }
        keysFile = reader.string("keysFile")
        keys = []
        if let keysFile {
            let url = reader.resolvedFile(keysFile)
            if let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) {
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                    guard let key = Data(base64Encoded: trimmed), key.count == 32 else {
                        reader.fail("keysFile", "line \(number + 1) of \"\(keysFile)\" is not a base64 256-bit key")
                        continue
                    }
                    keys.append(Array(key))
                }
                if keys.isEmpty { reader.fail("keysFile", "\"\(keysFile)\" holds no keys") }
            } else {
                reader.fail("keysFile", "cannot read \"\(keysFile)\"")
            }
        }
        absoluteTimeout = reader.seconds("absoluteTimeout", default: 24 * 3600, in: 60...(90 * 24 * 3600))
        idleTimeout = reader.seconds("idleTimeout", default: 8 * 3600, in: 60...(90 * 24 * 3600))
        maxSessions = reader.int("maxSessions", default: 100_000, in: 100...10_000_000)
        revalidateEvery = reader.seconds("revalidateEvery", default: 15 * 60, in: 10...(24 * 3600))
        outageGrace = reader.seconds("outageGrace", default: 4 * 3600, in: 0...(7 * 24 * 3600))
        persistentCookie = reader.bool("persistentCookie", default: true)
        cookieDomain = reader.string("cookieDomain").map { $0.lowercased() }
        if let domain = cookieDomain, !Self.isDomain(domain) {
            reader.fail("cookieDomain", "\"\(domain)\" is not a domain name (such as \"contoso.example\", no scheme, port or leading dot)")
            cookieDomain = nil
        }
        store = reader.section("store")
        if store.kind == .postgres && keysFile == nil {
            reader.fail("store", "a postgres store needs session.keysFile: every instance must open the others' cookies, and stored refresh tokens are sealed with those keys")
        }
    }

    /// Letters, digits and hyphens in dot-separated labels, at least two labels.
    static func isDomain(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && text.utf8.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
            }
    }

    static func isCookieName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
    }
}
