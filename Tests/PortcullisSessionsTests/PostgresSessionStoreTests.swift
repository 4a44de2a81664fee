import Foundation
import Logging
import PortcullisAuth
import PortcullisCore
@testable import PortcullisPostgres
import PortcullisSessions
import PortcullisTestSupport
import Synchronization
import Testing

/// Live tests against a throwaway PostgreSQL server. Skipped on a machine without the server
/// binaries, but never under `CI=true`: there a missing server fails the run.
///
/// One server for the suite, a database per test, so tests run in parallel; the outage tests
/// take their own server down, so they start their own.
@Suite("PostgreSQL session store", .enabled(if: TestPostgresServer.testsEnabled), SharedPostgresServer())
struct PostgresSessionStoreTests {
    @Test("the migration is idempotent: stores starting together on one database all work")
    func migration() async throws {
        let (server, url) = try await freshDatabase()
        try await withStores(3, url: url) { stores in
            for store in stores { try await store.waitUntilReady() }
            let sessions = stores.map { _ in makeSession() }
            for (store, session) in zip(stores, sessions) { try await store.store.put(session, ttl: 600) }
            for store in stores {
                for session in sessions { #expect(try await store.store.session(id: session.id)?.identity == session.identity) }
            }
        }
        // A later start finds the table there.
        try await withStores(1, url: url) { stores in
            try await stores[0].waitUntilReady()
            #expect(try await stores[0].store.count() == 3)
        }
        let database = String(url.split(separator: "/").last!)
        #expect(try await server.psql("SELECT count(*) FROM pg_indexes WHERE tablename = 'portcullis_sessions'", database: database) == "4")
        // Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS fails on the catalog
        // (and would only succeed on retry).
        #expect(!server.logTail(lines: 10_000).contains("pg_type_typname_nsp_index"))
    }

    @Test("a session round-trips; the stored bytes hold no refresh token in clear")
    func roundTrip() async throws {
        let (server, url) = try await freshDatabase()
        let log = StoreLog()
        let token = "rt-plaintext-\(UUID().uuidString)"
        let session = makeSession("alice", sid: "sid-rt", refreshToken: token)
        try await withStores(2, url: url, logger: log.logger) { stores in
            let (a, b) = (stores[0], stores[1])
            // At once, on a fresh database: the call does not wait for run's migration.
            try await a.store.put(session, ttl: 600)
            // Another instance (same key ring) reads what this one wrote.
            let loaded = try #require(try await b.store.session(id: session.id))
            #expect(loaded.id == session.id)
            #expect(loaded.identity == session.identity)
            #expect(loaded.providerSessionID == "sid-rt")
            #expect(loaded.logoutHint == session.logoutHint)
            #expect(loaded.refreshToken == token)
            #expect(abs(loaded.absoluteExpiry.timeIntervalSince(session.absoluteExpiry)) < 0.001)
            #expect(try await a.store.session(id: .random()) == nil)

            let database = String(url.split(separator: "/").last!)
            let row = try await server.psql(
                "SELECT encode(id, 'hex') || ' ' || username || ' ' || sid || ' ' || round(extract(epoch FROM expires_at - now())) FROM portcullis_sessions",
                database: database)
            let fields = row.split(separator: " ").map(String.init)
            #expect(Array(fields.prefix(3)) == [session.id.hex, "alice", "sid-rt"])
            #expect((590...600).contains(Int(fields.last ?? "") ?? 0), "expires in \(fields.last ?? "?") s")
            let data = try await server.psql("SELECT encode(data, 'escape') FROM portcullis_sessions", database: database)
            #expect(data.contains("alice"))  // the record is there, readable...
            #expect(!data.contains(token))  // ...but not its refresh token
            #expect(!data.contains("rt-plaintext"))

            // An update keeps one row.
            var changed = session
            changed.identity.roles = ["Admin"]
            try await a.store.put(changed, ttl: 600)
            #expect(try await b.store.session(id: session.id)?.identity.roles == ["Admin"])
            #expect(try await a.store.count() == 1)
        }
        log.expectNoSecrets([session.id.hex, token])
    }

    @Test("refresh tokens are sealed with the keys the store is given: a new key seals from then on, a removed key opens nothing more")
    func keyRotation() async throws {
        let (_, url) = try await freshDatabase()
        let (oldKey, newKey) = (KeyRing.newKey(), KeyRing.newKey())
        try await withStores(1, url: url) { stores in
            let store = stores[0].store
            store.useKeys(KeyRing(keys: [oldKey]))
            let before = makeSession("alice", sid: "s-before", refreshToken: "rt-before")
            try await store.put(before, ttl: 600)
            // A rotation (what a reload of the keys file hands over): the new key first, so it
            // seals; the old one kept, so it still opens.
            store.useKeys(KeyRing(keys: [newKey, oldKey]))
            let after = makeSession("bob", sid: "s-after", refreshToken: "rt-after")
            try await store.put(after, ttl: 600)
            #expect(try await store.session(id: before.id)?.refreshToken == "rt-before")
            #expect(try await store.session(id: after.id)?.refreshToken == "rt-after")
            // The old key removed: what it sealed no longer opens (the session stays, without a
            // token, and ends at its revalidation); what the new key sealed still does.
            store.useKeys(KeyRing(keys: [newKey]))
            let stale = try #require(try await store.session(id: before.id))
            #expect(stale.refreshToken == nil)
            #expect(try await store.session(id: after.id)?.refreshToken == "rt-after")
        }
    }

    @Test("a session put for three seconds is gone after it; count skips it; the sweeper deletes it")
    func timeToLive() async throws {
        let (server, url) = try await freshDatabase()
        let database = String(url.split(separator: "/").last!)
        try await withStores(1, url: url) { stores in
            let store = stores[0].store
            try await stores[0].waitUntilReady()
            let brief = makeSession("brief"), lasting = makeSession("lasting")
            let put = ContinuousClock.now
            try await store.put(brief, ttl: 3)
            try await store.put(lasting, ttl: 600)
            let present = try await store.session(id: brief.id) != nil, counted = try await store.count()
            // A machine so loaded that three seconds passed has nothing to say about "before".
            if ContinuousClock.now - put < .milliseconds(2_500) {
                #expect(present)
                #expect(counted == 2)
            }
            try await Task.sleep(until: put + .milliseconds(3_500))
            #expect(try await store.session(id: brief.id) == nil)
            #expect(try await store.count() == 1)
            #expect(try await server.psql("SELECT count(*) FROM portcullis_sessions", database: database) == "2")
            #expect(try await store.sweep() == 1)
            #expect(try await server.psql("SELECT count(*) FROM portcullis_sessions", database: database) == "1")
            #expect(try await store.session(id: lasting.id) != nil)
        }
    }

    @Test("delete ends one session; deleteAll by user and by provider session count what they end")
    func deletion() async throws {
        let (server, url) = try await freshDatabase()
        let database = String(url.split(separator: "/").last!)
        try await withStores(1, url: url) { stores in
            let store = stores[0].store
            try await stores[0].waitUntilReady()
            let alice1 = makeSession("alice", sid: "sid-x"), alice2 = makeSession("alice", sid: "sid-y")
            let bob = makeSession("bob", sid: "sid-x"), carol = makeSession("carol", sid: nil), dave = makeSession("dave")
            for session in [alice1, alice2, bob, carol] { try await store.put(session, ttl: 600) }
            try await store.put(dave, ttl: 0)  // already expired: removed, not counted

            #expect(try await store.deleteAll(username: "alice") == 2)
            #expect(try await store.session(id: alice1.id) == nil)
            #expect(try await store.session(id: alice2.id) == nil)
            #expect(try await store.session(id: bob.id) != nil)
            #expect(try await store.deleteAll(providerSessionID: "sid-x") == 1)
            #expect(try await store.session(id: bob.id) == nil)
            try await store.delete(id: carol.id)
            #expect(try await store.session(id: carol.id) == nil)
            #expect(try await store.deleteAll(username: "dave") == 0)
            #expect(try await store.deleteAll(username: "nobody") == 0)
            try await store.delete(id: .random())
            #expect(try await store.count() == 0)

            // An ended session stays ended: neither a revalidation's replace nor a touch that
            // was under way when it ended brings it back.
            var revalidated = carol
            revalidated.validated = Date()
            #expect(try await store.replace(revalidated, ttl: 600) == false)
            try await store.touch(revalidated, ttl: 600)
            #expect(try await store.session(id: carol.id) == nil)
            // A live one is updated by both.
            let erin = makeSession("erin")
            try await store.put(erin, ttl: 600)
            var changed = erin
            changed.validated = Date().addingTimeInterval(5)
            #expect(try await store.replace(changed, ttl: 600) == true)
            #expect(try await store.session(id: erin.id)?.validated.timeIntervalSince1970.rounded() == changed.validated.timeIntervalSince1970.rounded())
            try await store.touch(erin, ttl: 600)
            #expect(try await store.session(id: erin.id) != nil)
            try await store.delete(id: erin.id)

            // A table dropped under a running store is created again by the next call.
            try await server.psql("DROP TABLE portcullis_sessions", database: database)
            await #expect(throws: SessionStoreUnavailable.self) { try await store.count() }
            try await store.put(carol, ttl: 600)
            #expect(try await store.count() == 1)
        }
    }

    @Test("another instance hears delete, deleteAll and replace (latency printed); the sender does not hear itself")
    func evictions() async throws {
        let (server, url) = try await freshDatabase()
        let database = String(url.split(separator: "/").last!)
        try await withStores(2, url: url) { stores in
            let (a, b) = (stores[0], stores[1])
            try await a.waitUntilReady()
            try await a.waitUntilListening()
            try await b.waitUntilListening()
            let one = makeSession("erin", sid: "sid-e"), two = makeSession("erin", sid: "sid-e")
            try await a.store.put(one, ttl: 600)
            try await a.store.put(two, ttl: 600)

            let actions: [(String, SessionEviction, @Sendable () async throws -> Void)] = [
                ("delete", .session(one.id), { try await a.store.delete(id: one.id) }),
                ("replace", .session(two.id), { _ = try await a.store.replace(two, ttl: 600) }),
                ("deleteAll(username:)", .user("erin"), { _ = try await a.store.deleteAll(username: "erin") }),
                ("deleteAll(providerSessionID:)", .providerSession("sid-e"), { _ = try await a.store.deleteAll(providerSessionID: "sid-e") }),
            ]
            for (name, expected, action) in actions {
                let start = ContinuousClock.now
                try await action()
                // Usually milliseconds (printed); the window is wide for a loaded CI machine.
                let latency = await b.waitForEviction(expected, since: start, timeout: .seconds(5))
                #expect(latency != nil, "\(name) did not reach the other instance within 5 s")
                print("eviction latency (\(name)): \(latency.map { "\($0)" } ?? "none")")
            }
            // A put is not announced; other programs' noise on the channel is ignored; a
            // well-formed notice from elsewhere (the CLI, say) reaches both instances.
            try await a.store.put(makeSession("erin"), ttl: 600)
            try await server.psql("NOTIFY portcullis_sessions, 'garbage'", database: database)
            try await server.psql("SELECT pg_notify('portcullis_sessions', 'cli s:not-hex')", database: database)
            let start = ContinuousClock.now
            try await server.psql("SELECT pg_notify('portcullis_sessions', 'cli u:mallory')", database: database)
            #expect(await a.waitForEviction(.user("mallory"), since: start, timeout: .seconds(5)) != nil)
            #expect(await b.waitForEviction(.user("mallory"), since: start, timeout: .seconds(5)) != nil)
            #expect(a.evictions == [.user("mallory")])
            #expect(b.evictions == actions.map(\.1) + [.user("mallory")])
        }
    }

    @Test("an undecodable row reads as absent; the store keeps working")
    func garbageRow() async throws {
        let (server, url) = try await freshDatabase()
        let database = String(url.split(separator: "/").last!)
        let log = StoreLog()
        try await withStores(1, url: url, logger: log.logger) { stores in
            let store = stores[0].store
            try await stores[0].waitUntilReady()
            let binary = SessionID.random(), wrongVersion = SessionID.random()
            for (id, data) in [(binary, "decode('00ff', 'hex')"), (wrongVersion, "convert_to('{\"v\":2}', 'UTF8')")] {
                try await server.psql(
                    "INSERT INTO portcullis_sessions (id, username, expires_at, data) VALUES (decode('\(id.hex)', 'hex'), 'mallory', now() + interval '1 hour', \(data))",
                    database: database)
            }
            #expect(try await store.session(id: binary) == nil)
            #expect(try await store.session(id: wrongVersion) == nil)
            let session = makeSession()
            try await store.put(session, ttl: 600)
            #expect(try await store.session(id: session.id) != nil)
            #expect(try await store.deleteAll(username: "mallory") == 2)
            log.expectNoSecrets([binary.hex, wrongVersion.hex])
            #expect(log.lines.contains { $0.contains("could not be decoded") })
        }
    }

    @Test("database restart: calls fail fast, the same instances recover, the listener hears again")
    func outage() async throws {
        try await TestPostgresServer.with { server in
            let password = "pw-\(UUID().uuidString)"
            let url = server.url(database: "postgres", password: password)
            let log = StoreLog()
            let session = makeSession("frank", refreshToken: "rt-outage-secret")
            try await withStores(2, url: url, logger: log.logger, timeout: .seconds(2)) { stores in
                let (a, b) = (stores[0], stores[1])
                try await a.waitUntilReady()
                try await b.waitUntilListening()
                try await a.store.put(session, ttl: 600)

                try await server.stopServer()
                for (name, call) in Self.calls(a.store, session) {
                    let start = ContinuousClock.now
                    let error = await #expect(throws: SessionStoreUnavailable.self, "\(name) during the outage") { try await call() }
                    let elapsed = ContinuousClock.now - start
                    #expect(elapsed < .seconds(6), "\(name) took \(elapsed) to fail")  // 2 s timeout + room for load
                    print("outage: \(name) failed after \(elapsed): \(error?.reason ?? "-")")
                    #expect(error.map { !$0.reason.contains(password) && !$0.reason.contains(session.id.hex) } == true)
                }

                let restart = ContinuousClock.now
                try await server.startServer()
                let back = try await eventually(timeout: .seconds(15)) { try await a.store.session(id: session.id) }
                #expect(back.identity == session.identity)  // the data survived, the same store instance serves it
                print("outage: the store answered \(ContinuousClock.now - restart) after the restart")
                let heard = try await eventually(timeout: .seconds(10)) { () async throws -> Duration? in
                    let start = ContinuousClock.now
                    let probe = SessionID.random()
                    try await a.store.delete(id: probe)
                    return await b.waitForEviction(.session(probe), since: start, timeout: .milliseconds(300)).map { _ in ContinuousClock.now - restart }
                }
                #expect(heard < .seconds(5))
                print("outage: the other instance heard evictions again \(heard) after the restart")
            }
            log.expectNoSecrets([password, session.id.hex, "rt-outage-secret"])
            #expect(log.lines.contains { $0.contains("PostgreSQL unavailable") })
            #expect(log.lines.contains { $0.contains("reachable again") })
        }
    }

    @Test("a store started before its database comes up starts working once it does")
    func lateDatabase() async throws {
        try await TestPostgresServer.with { server in
            try await server.stopServer()
            try await withStores(2, url: server.url) { stores in
                let (a, b) = (stores[0], stores[1])
                try await Task.sleep(for: .seconds(3))
                await #expect(throws: SessionStoreUnavailable.self) { try await a.store.count() }
                let up = ContinuousClock.now
                try await server.startServer()
                try await a.waitUntilReady()  // the migration ran once the database appeared
                try await b.waitUntilListening()
                print("late database: the store answered \(ContinuousClock.now - up) after the database came up")
                let (probe, start) = (SessionID.random(), ContinuousClock.now)
                try await a.store.delete(id: probe)
                #expect(await b.waitForEviction(.session(probe), since: start, timeout: .seconds(5)) != nil)
            }
        }
    }

    @Test("run may start again after it ended (the gateway restarts it after a failure)")
    func runAgain() async throws {
        let (_, url) = try await freshDatabase()
        let store = try PostgresSessionStore(url: url, codec: SessionCodec(keyRing: .ephemeral()), logger: quietLogger)
        for round in 1...2 {
            let running = Task { try await store.run { _ in } }
            _ = try await eventually { try await store.count() }
            running.cancel()
            try await running.value
            print("run again: round \(round) worked")
        }
        await #expect(throws: SessionStoreUnavailable.self, "a store that is not running answers unavailable, not never") {
            try await store.count()
        }
    }

    @Test("stalled database (SIGSTOP): calls fail within the timeout instead of hanging; recovery after SIGCONT; run ends when cancelled")
    func stalled() async throws {
        try await TestPostgresServer.with { server in
            let session = makeSession("grace")
            var stopped = Duration.zero
            try await withStores(1, url: server.url, timeout: .seconds(2)) { stores in
                let store = stores[0].store
                try await stores[0].waitUntilReady()
                try await store.put(session, ttl: 600)
                server.pause()
                for (name, call) in Self.calls(store, session) {
                    let start = ContinuousClock.now
                    await #expect(throws: SessionStoreUnavailable.self, "\(name) against a stalled server") { try await call() }
                    let elapsed = ContinuousClock.now - start
                    #expect(elapsed < .seconds(6), "\(name) took \(elapsed) to fail")  // 2 s timeout + room for load
                    print("stalled: \(name) failed after \(elapsed)")
                }
                server.resume()
                let resumed = ContinuousClock.now
                _ = try await eventually(timeout: .seconds(15)) { try await store.session(id: session.id) }
                print("stalled: the store answered \(ContinuousClock.now - resumed) after SIGCONT")
                server.pause()  // and shut the store down while the server is stalled
                stopped = await stores[0].stop()
                server.resume()
            }
            #expect(stopped < .seconds(3), "run took \(stopped) to return after cancellation")
            print("stalled: run returned \(stopped) after cancellation")
        }
    }

    static func calls(_ store: PostgresSessionStore, _ session: Session) -> [(String, @Sendable () async throws -> Void)] {
        [
            ("session(id:)", { _ = try await store.session(id: session.id) }),
            ("put", { try await store.put(session, ttl: 600) }),
            ("replace", { _ = try await store.replace(session, ttl: 600) }),
            ("touch", { try await store.touch(session, ttl: 600) }),
            ("delete", { try await store.delete(id: .random()) }),
            ("deleteAll", { _ = try await store.deleteAll(username: "nobody") }),
            ("count", { _ = try await store.count() }),
        ]
    }
}

@Suite("PostgreSQL store configuration and notices")
struct PostgresStoreConfigurationTests {
    @Test("a URL gives host, port, user, password and database")
    func parse() throws {
        #expect(
            try PostgresURL("postgres://gw:s%40cret@db.internal:6543/sessions?sslmode=disable")
                == PostgresURL(host: "db.internal", port: 6543, username: "gw", password: "s@cret", database: "sessions"))
        #expect(try PostgresURL("postgresql://gw@127.0.0.1/") == PostgresURL(host: "127.0.0.1", username: "gw"))
    }

    @Test(
        "an unusable URL is refused, and the error never repeats the password",
        arguments: [
            "mysql://u:hunter2@h/db", "postgres://u:hunter2@/db", "postgres://:hunter2@h/db", "postgres://u:hunter2@h:99999/db",
            "postgres://u:hunter2@h/db/extra", "postgres://u:hunter2@h/db?sslmode=require", "postgres://u:hunter2@h/db?password=hunter2",
            "postgres://u:hunter2@h/db#hunter2", "hunter2", "postgres://u:hunter2@h:port/db", "",
        ])
    func invalid(url: String) {
        let codec = SessionCodec(keyRing: .ephemeral())
        let error = #expect(throws: InvalidPostgresURL.self) { try PostgresSessionStore(url: url, codec: codec, logger: quietLogger) }
        #expect(!"\(error.map { "\($0)" } ?? "")".contains("hunter2"))
    }

    @Test("notification payloads carry the sender; anything else on the channel is refused")
    func notices() {
        let id = SessionID.random()
        for eviction in [SessionEviction.session(id), .user("a b"), .providerSession("sid")] {
            let notice = EvictionNotice(sender: "1f2e", eviction: eviction)
            #expect(EvictionNotice(payload: notice.payload) == notice)
        }
        for payload in ["", "garbage", " s:\(id.hex)", "1f2e", "1f2e ", "1f2e x:1", "1f2e s:short"] {
            #expect(EvictionNotice(payload: payload) == nil, "\(payload)")
        }
    }

    @Test("retries back off from 100 ms to at most a second")
    func retryDelays() {
        #expect((1...8).map(PostgresSessionStore.retryDelay(attempt:)) == [100, 200, 400, 800, 1000, 1000, 1000, 1000].map { .milliseconds($0) })
    }
}

// MARK: - Harness

/// Starts one server before the suite's tests and stops it after them.
struct SharedPostgresServer: SuiteTrait, TestScoping {
    @TaskLocal static var current: TestPostgresServer?

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await TestPostgresServer.with { server in
            try await Self.$current.withValue(server) { try await function() }
        }
    }
}

/// A new database on the suite's server; returns the server and the database's URL.
func freshDatabase() async throws -> (TestPostgresServer, String) {
    let server = try #require(SharedPostgresServer.current, "no shared server (the suite trait did not run)")
    let url = try await server.createDatabase("t_" + String(UInt64.random(in: .min ... .max), radix: 16))
    return (server, url)
}

/// A store with its `run` going, recording what it is told to evict.
final class RunningStore: Sendable {
    let store: PostgresSessionStore
    private let received = Mutex<[(eviction: SessionEviction, at: ContinuousClock.Instant)]>([])
    private let runner = Mutex<Task<Void, Never>?>(nil)

    init(url: String, codec: SessionCodec, logger: Logger, timeout: Duration) throws {
        store = try PostgresSessionStore(url: url, codec: codec, logger: logger, timeout: timeout)
        let task = Task { [self] in
            _ = try? await store.run { eviction in self.received.withLock { $0.append((eviction, .now)) } }
        }
        runner.withLock { $0 = task }
    }

    var evictions: [SessionEviction] { received.withLock { $0.map(\.eviction) } }

    /// Cancels `run`; returns how long it took to return.
    func stop() async -> Duration {
        guard let task = runner.withLock({ task in defer { task = nil }; return task }) else { return .zero }
        let start = ContinuousClock.now
        task.cancel()
        await task.value
        return ContinuousClock.now - start
    }

    /// Waits for the table (the migration runs inside `run`).
    func waitUntilReady() async throws {
        _ = try await eventually { try await self.store.count() }
    }

    func waitUntilListening() async throws {
        _ = try await eventually { self.store.isListening ? true : nil }
    }

    /// How long after `start` the eviction arrived, or nil if not within `timeout`.
    func waitForEviction(_ eviction: SessionEviction, since start: ContinuousClock.Instant, timeout: Duration) async -> Duration? {
        let deadline = start + timeout
        while true {
            if let at = received.withLock({ $0.first { $0.eviction == eviction && $0.at >= start }?.at }) { return at - start }
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Runs `body` with `count` running stores sharing one key ring, then stops them; each must
/// return from `run` within 3 s of cancellation.
/// `timeout` is the stores' call timeout: generous by default, because a loaded CI machine may
/// take seconds to open a first connection; the outage tests pass the gateway's 2 s.
func withStores(
    _ count: Int, url: String, logger: Logger = quietLogger, timeout: Duration = .seconds(20),
    _ body: ([RunningStore]) async throws -> Void
) async throws {
    let codec = SessionCodec(keyRing: .ephemeral())
    let stores = try (0..<count).map { _ in try RunningStore(url: url, codec: codec, logger: logger, timeout: timeout) }
    var failure: (any Error)?
    do { try await body(stores) } catch { failure = error }
    var times: [Duration] = []
    for store in stores { times.append(await store.stop()) }
    #expect(times.allSatisfy { $0 < .seconds(3) }, "run took \(times) to return after cancellation")
    if let failure { throw failure }
}

let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

struct TimedOut: Error, CustomStringConvertible {
    var lastError: (any Error)?
    var description: String { "timed out" + (lastError.map { " (last error: \($0))" } ?? "") }
}

/// Polls `body` until it gives a value.
func eventually<T>(timeout: Duration = .seconds(10), _ body: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await body() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TimedOut(lastError: lastError)
}

/// Every line a store logs, at every level, to check nothing secret is in them.
final class StoreLog: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var lines: [String] { lock.withLock { stored } }

    var logger: Logger { Logger(label: "test") { _ in self } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lock.withLock { stored.append("\(event.level) \(event.message) \(fields)") }
    }

    func expectNoSecrets(_ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for line in lines {
            for secret in secrets { #expect(!line.contains(secret), "logged a secret: \(line)", sourceLocation: sourceLocation) }
        }
    }
}
