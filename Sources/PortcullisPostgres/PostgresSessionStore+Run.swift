import Logging
import PortcullisSessions
import PostgresNIO
import Synchronization

extension PostgresSessionStore {
    /// Runs the pool, creates the table, listens for other instances' changes and sweeps
    /// expired rows, until cancelled. Never fails for want of a database: each part retries.
    public func run(evict: @escaping @Sendable (SessionEviction) -> Void) async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.pool.run() }
            group.addTask { await self.migrate() }
            group.addTask { await self.listen(evict: evict) }
            group.addTask { await self.sweepPeriodically() }
        }
    }

    /// Retried until it succeeds: the database may come up after the gateway.
    func migrate() async {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await perform("migration", timeout: .seconds(30)) { _ in }
                return
            } catch {
                attempt += 1
                try? await Task.sleep(for: Self.retryDelay(attempt: attempt))
            }
        }
    }

    /// Idempotent, and serialised by an advisory lock so instances starting together all
    /// succeed.
    func migrate(on client: PostgresClient) async throws {
        try await client.withTransaction(logger: driverLogger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(SessionTable.migrationLockKey))", logger: self.driverLogger).drain()
            for statement in SessionTable.migration {
                try await connection.query(statement, logger: self.driverLogger).drain()
            }
        }
        migrated.withLock { $0 = true }
    }

    func sweepPeriodically() async {
        while (try? await Task.sleep(for: Self.sweepInterval)) != nil {
            if let swept = try? await sweep(), swept > 0 {
                logger.debug("session store: swept expired sessions", metadata: ["count": "\(swept)"])
            }
        }
    }

    /// 100 ms doubling to 1 s: a restarted database is heard from again within a second.
    static func retryDelay(attempt: Int) -> Duration {
        .milliseconds(min(1000, 100 << min(attempt - 1, 4)))
    }

    /// Whether the listener is subscribed now (tests wait for it before expecting evictions).
    var isListening: Bool { listening.withLock { $0 } }
}
