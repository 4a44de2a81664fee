import Foundation

/// `session.store`: where sessions live beyond the in-process cache.
public struct SessionStoreConfig: ConfigSection, Sendable {
    public enum Kind: String, Sendable {
        /// In the gateway's memory only (the embedded default): one instance, sessions end
        /// at restart.
        case memory
        /// PostgreSQL, shared by every instance; logouts and revocations reach all of them.
        case postgres
    }

    public var kind: Kind
    /// The connection URL (`postgres://user:password@host:port/database`), from `url`
    /// (no password in it), `urlFile` or `urlEnv`.
    public var url: Secret?

    public static var fields: [ConfigField] {
        [.value("type"), .value("url"), .value("urlFile"), .value("urlEnv")]
    }

    public init(reading reader: ConfigObjectReader) {
        kind = Kind(rawValue: reader.choice("type", default: "memory", among: ["memory", "postgres"])) ?? .memory
        let inline = reader.string("url")
        let external = reader.secret("url")
        if inline != nil && external != nil {
            reader.failHere("give one of url, urlFile or urlEnv")
        }
        url = external ?? inline.map(Secret.init)
        switch kind {
        case .memory:
            if inline != nil || reader.has("urlFile") || reader.has("urlEnv") {
                reader.failHere("url, urlFile and urlEnv are for type \"postgres\"")
            }
        case .postgres:
            if let url {
                if !(url.value.hasPrefix("postgres://") || url.value.hasPrefix("postgresql://")) {
                    reader.fail(external == nil ? "url" : (reader.has("urlFile") ? "urlFile" : "urlEnv"), "is not a postgres:// URL")
                } else if let inline, Self.hasPassword(inline) {
                    reader.fail("url", "holds a password: put the URL in urlFile or urlEnv instead, so the config can be shown without it")
                }
            } else if !reader.has("urlFile") && !reader.has("urlEnv") {
                reader.failHere("type \"postgres\" needs url, urlFile or urlEnv")
            }
        }
    }

    /// `scheme://user:password@…`: a colon in the userinfo part.
    static func hasPassword(_ url: String) -> Bool {
        guard let schemeEnd = url.range(of: "://") else { return false }
        let rest = url[schemeEnd.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return false }
        let userinfo = rest[..<at]
        return !userinfo.contains("/") && userinfo.contains(":")
    }
}
