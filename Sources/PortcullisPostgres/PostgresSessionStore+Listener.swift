import Logging
import PortcullisSessions
import PostgresNIO

extension PostgresSessionStore {
    /// How often the listening connection proves it is alive. A stalled server or a silent
    /// network never closes it, and a dead listener would leave stale sessions in caches.
    static let heartbeatInterval: Duration = .seconds(10)

    /// Hands other instances' evictions to `evict` until cancelled, re-subscribing whenever
    /// the connection drops. It uses a connection of its own, not a pooled one, so its
    /// reconnect pace is ours (at most a second apart), not the pool's growing backoff.
    ///
    /// Notifications sent while it is disconnected are lost (PostgreSQL does not queue them
    /// for absent listeners), so on reconnecting it evicts ``SessionEviction/everything``.
    func listen(evict: @escaping @Sendable (SessionEviction) -> Void) async {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        configuration.options.connectTimeout = TimeAmount(timeout)
        var failures = 0
        var connectionID = 0
        while !Task.isCancelled {
            connectionID += 1
            var lost: (any Error)?
            do {
                let connection: PostgresConnection
                do {
                    connection = try await PostgresConnection.connect(configuration: configuration, id: connectionID, logger: driverLogger)
                    lastConnectFailure.withLock { $0 = nil }
                } catch {
                    lastConnectFailure.withLock { $0 = unavailable(error).reason }
                    throw error
                }
                do {
                    try await connection.listen(on: EvictionNotice.channel) { notifications in
                        listening.withLock { $0 = true }
                        if failures > 0 {
                            // Changes announced while nobody listened are lost: drop every
                            // cached session so each is read afresh from the store.
                            evict(.everything)
                            logger.notice("session store: listening for changes again; cached sessions dropped")
                            await renewPoolIfStuck()
                        }
                        failures = 0
                        try await receive(notifications, on: connection, evict: evict)
                    }
                } catch {
                    lost = error
                }
                listening.withLock { $0 = false }
                try? await connection.close()
            } catch {
                lost = error
            }
            guard !Task.isCancelled else { break }
            failures += 1
            if failures == 1 {
                let reason = lost.map { unavailable($0).reason } ?? "the connection closed"
                logger.warning("session store: not listening for changes; retrying", metadata: ["reason": "\(reason)"])
            }
            try? await Task.sleep(for: Self.retryDelay(attempt: failures))
        }
    }

    /// Returns (throws) when the connection fails or stops answering the heartbeat.
    private func receive(
        _ notifications: PostgresNotificationSequence, on connection: PostgresConnection,
        evict: @escaping @Sendable (SessionEviction) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await notification in notifications {
                    guard let notice = EvictionNotice(payload: notification.payload), notice.sender != self.instanceID else { continue }
                    evict(notice.eviction)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.heartbeatInterval)
                    try await withDeadline(self.timeout) {
                        try await connection.query("SELECT 1", logger: self.driverLogger).drain()
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The listener reconnecting means the database is back; if the pool still fails (it
    /// may be sleeping through a long backoff), replace it instead of waiting.
    private func renewPoolIfStuck() async {
        let client = pool.client
        let works = (try? await withDeadline(.seconds(1)) { try await client.query("SELECT 1").drain() }) != nil
        if !works {
            logger.notice("session store: replacing the connection pool after the outage")
            pool.renew()
        }
    }
}
