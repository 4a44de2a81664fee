import Logging
import PortcullisAuth
import PortcullisCore
import PortcullisSessions

extension PostgresSessionStore {
    /// The shared store `session.store` asks for, or nil for `memory` (the cache is then the
    /// store). Refresh tokens are sealed with the config's keys (a random key without a keys
    /// file: stored sessions then end with the process, like their cookies).
    public static func configured(by session: SessionConfig, logger: Logger) throws -> PostgresSessionStore? {
        guard session.store.kind == .postgres else { return nil }
        let keyRing = session.keys.isEmpty ? KeyRing.ephemeral() : KeyRing(keys: session.keys)
        return try PostgresSessionStore(url: session.store.url?.value ?? "", codec: SessionCodec(keyRing: keyRing), logger: logger)
    }
}
