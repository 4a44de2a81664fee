import Foundation
import Logging
import PortcullisAuth
import PortcullisSessions
import PostgresNIO
import Synchronization

/// The `postgres` store: sessions shared by every gateway instance in one table, changes
/// announced with NOTIFY so each instance drops its cached copy.
///
/// Fails fast and heals by itself: while the database is unreachable every call throws
/// ``SessionStoreUnavailable`` within ``timeout`` (the gateway answers cache misses with 503
/// and keeps serving cached sessions), and works again once the database is back, with no
/// restart. Nothing logged or thrown carries a session id, a refresh token or the password.
public final class PostgresSessionStore: SessionStore {
    let location: PostgresURL
    /// Seals and opens refresh tokens; its keys follow the running config (``useKeys(_:)``).
    private let currentCodec: Mutex<SessionCodec>
    var codec: SessionCodec { currentCodec.withLock { $0 } }
    let logger: Logger
    /// What postgres-nio may log (see ``DriverLogHandler``).
    let driverLogger: Logger
    /// Bounds every call, and each connection attempt.
    public let timeout: Duration
    /// Tells this instance's notifications from the others'.
    let instanceID: String
    let pool: RenewableClient
    let health = Mutex(true)
    let listening = Mutex(false)
    /// Whether the table is known to exist. Calls made before `run`'s migration finished
    /// (a sign-in right after start) run it themselves instead of failing.
    let migrated = Mutex(false)
    /// Why the listener's last connection attempt failed: a call that times out (the pool
    /// queues calls while it cannot connect) reports it as the likely cause.
    let lastConnectFailure = Mutex<String?>(nil)

    static let sweepInterval: Duration = .seconds(60)

    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/database`; only `sslmode=disable` (the
    ///     default) is supported, TLS to the database is not implemented yet.
    ///   - timeout: How long a call may take before it throws ``SessionStoreUnavailable``:
    ///     the gateway waits this long on a cache miss when the database is down.
    /// - Throws: ``InvalidPostgresURL``, whose description never contains the password.
    public init(url: String, codec: SessionCodec, logger: Logger, timeout: Duration = .seconds(2)) throws {
        location = try PostgresURL(url)
        currentCodec = Mutex(codec)
        self.logger = logger
        self.timeout = timeout
        let driverLogger = DriverLogHandler.logger(wrapping: logger)
        self.driverLogger = driverLogger
        instanceID = String(UInt64.random(in: .min ... .max), radix: 16)
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        configuration.options.connectTimeout = timeout
        pool = RenewableClient { [configuration, driverLogger] in PostgresClient(configuration: configuration, backgroundLogger: driverLogger) }
    }

    public func useKeys(_ keyRing: KeyRing) {
        currentCodec.withLock { $0 = SessionCodec(keyRing: keyRing) }
    }

    public func session(id: SessionID) async throws -> Session? {
        let key = ByteBuffer(bytes: id.bytes)
        let data = try await perform("read") { client in
            try await client.query("SELECT data FROM portcullis_sessions WHERE id = \(key) AND expires_at > now()")
                .firstValue(ByteBuffer.self)
        }
        guard let data else { return nil }
        guard let session = codec.decode(data.readableBytesView, id: id) else {
            logger.warning("session store: a stored session could not be decoded; treated as absent")
            return nil
        }
        return session
    }

    public func put(_ session: Session, ttl: TimeInterval) async throws {
        let (key, data) = (ByteBuffer(bytes: session.id.bytes), ByteBuffer(bytes: codec.encode(session)))
        let (username, sid) = (session.identity.username, session.providerSessionID)
        try await perform("write") { client in
            try await client.query(
                """
                INSERT INTO portcullis_sessions (id, username, sid, expires_at, data, updated_at)
                VALUES (\(key), \(username), \(sid), now() + make_interval(secs => \(ttl)), \(data), now())
                ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, sid = EXCLUDED.sid,
                    expires_at = EXCLUDED.expires_at, data = EXCLUDED.data, updated_at = now()
                """
            ).drain()
        }
    }

    /// An update of the row, never an insert: a session deleted meanwhile stays deleted.
    public func touch(_ session: Session, ttl: TimeInterval) async throws {
        let (key, data) = (ByteBuffer(bytes: session.id.bytes), ByteBuffer(bytes: codec.encode(session)))
        try await perform("write") { client in
            try await client.query(
                """
                UPDATE portcullis_sessions SET expires_at = now() + make_interval(secs => \(ttl)), data = \(data), updated_at = now()
                WHERE id = \(key) AND expires_at > now()
                """
            ).drain()
        }
    }

    /// The update and the notification are one statement, so no instance hears of a change
    /// that did not happen, or misses one that did. Only an existing row is updated: a
    /// session deleted while it was revalidated is not brought back.
    public func replace(_ session: Session, ttl: TimeInterval) async throws -> Bool {
        let (key, data) = (ByteBuffer(bytes: session.id.bytes), ByteBuffer(bytes: codec.encode(session)))
        let (username, sid) = (session.identity.username, session.providerSessionID)
        let notice = notice(.session(session.id))
        return try await perform("write") { client in
            let updated = try await client.query(
                """
                WITH saved AS (
                    UPDATE portcullis_sessions SET username = \(username), sid = \(sid),
                        expires_at = now() + make_interval(secs => \(ttl)), data = \(data), updated_at = now()
                    WHERE id = \(key) AND expires_at > now()
                    RETURNING 1
                )
                SELECT count(*), pg_notify('portcullis_sessions', \(notice)) FROM saved HAVING count(*) > 0
                """
            ).firstValue(Int64.self)
            return (updated ?? 0) > 0
        }
    }

    /// Announced even when no row is left: another instance may still cache the session.
    public func delete(id: SessionID) async throws {
        let key = ByteBuffer(bytes: id.bytes)
        let notice = notice(.session(id))
        try await perform("delete") { client in
            try await client.query(
                """
                WITH gone AS (DELETE FROM portcullis_sessions WHERE id = \(key))
                SELECT pg_notify('portcullis_sessions', \(notice))
                """
            ).drain()
        }
    }

    @discardableResult
    public func deleteAll(username: String) async throws -> Int {
        try await deleteAll(where: .username, is: username, announcing: .user(username))
    }

    @discardableResult
    public func deleteAll(providerSessionID: String) async throws -> Int {
        try await deleteAll(where: .sid, is: providerSessionID, announcing: .providerSession(providerSessionID))
    }

    /// The indexed columns sessions are ended by; fixed names, so safe to splice into SQL.
    enum SessionColumn: String {
        case username, sid
    }

    /// Deletes every row whose `column` is `value` and announces `eviction`, in one
    /// statement. Counts the live sessions ended (expired rows awaiting the sweeper go too,
    /// uncounted).
    private func deleteAll(where column: SessionColumn, is value: String, announcing eviction: SessionEviction) async throws -> Int {
        let notice = notice(eviction)
        return try await perform("delete") { client in
            try await client.query(
                """
                WITH gone AS (DELETE FROM portcullis_sessions WHERE \(unescaped: column.rawValue) = \(value) RETURNING expires_at)
                SELECT count(*) FILTER (WHERE expires_at > now()), pg_notify('portcullis_sessions', \(notice)) FROM gone
                """
            ).firstValue(Int64.self).map(Int.init) ?? 0
        }
    }

    public func count() async throws -> Int {
        try await perform("count") { client in
            try await client.query("SELECT count(*) FROM portcullis_sessions WHERE expires_at > now()")
                .firstValue(Int64.self).map(Int.init) ?? 0
        }
    }

    /// Deletes expired rows; returns how many. Reads already skip them: this only bounds
    /// the table.
    @discardableResult
    func sweep() async throws -> Int {
        try await perform("sweep", timeout: .seconds(30)) { client in
            try await client.query(
                """
                WITH gone AS (DELETE FROM portcullis_sessions WHERE expires_at <= now() RETURNING 1)
                SELECT count(*) FROM gone
                """
            ).firstValue(Int64.self).map(Int.init) ?? 0
        }
    }

    private func notice(_ eviction: SessionEviction) -> String {
        EvictionNotice(sender: instanceID, eviction: eviction).payload
    }

    /// Runs `body` on the current pool within the deadline; any failure becomes
    /// ``SessionStoreUnavailable``. Logs only the changes between working and failing, so
    /// an outage is two lines, not one per request.
    func perform<T: Sendable>(
        _ action: String, timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = pool.client
        let migrated = migrated.withLock { $0 }
        do {
            let result = try await withDeadline(timeout ?? self.timeout) {
                if !migrated { try await self.migrate(on: client) }
                return try await body(client)
            }
            if health.withLock({ healthy in defer { healthy = true }; return !healthy }) {
                logger.notice("session store: PostgreSQL reachable again")
            }
            return result
        } catch is CancellationError where Task.isCancelled {
            throw CancellationError()
        } catch {
            if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "42P01" {
                self.migrated.withLock { $0 = false }  // the table was dropped: create it again
            }
            let failure = unavailable(error)
            if health.withLock({ healthy in defer { healthy = false }; return healthy }) {
                logger.warning("session store: PostgreSQL unavailable", metadata: ["action": "\(action)", "reason": "\(failure.reason)"])
            }
            throw failure
        }
    }
}

extension PostgresRowSequence {
    /// Reads to the end, so a failure anywhere in the statement surfaces here.
    func drain() async throws {
        for try await _ in self {}
    }

    /// The first column of the first row; nil when there is no row.
    func firstValue<T: PostgresDecodable>(_ type: T.Type) async throws -> T? {
        var value: T?
        for try await row in self where value == nil {
            value = try row.makeRandomAccess()[0].decode(T.self)
        }
        return value
    }
}
