import Foundation
import PortcullisAuth
import PortcullisCore
import PortcullisSessions

/// A shared session store with every call timed and its failures counted, for the metrics
/// (`portcullis_store_requests_total`, `portcullis_store_request_seconds`). The gateway asks
/// the store only on a cache miss and on changes, so this costs the hot path nothing.
struct MeasuredSessionStore: SessionStore {
    let store: any SessionStore
    let metrics: GatewayMetrics

    func run(evict: @escaping @Sendable (SessionEviction) -> Void) async throws {
        try await store.run(evict: evict)
    }

    func useKeys(_ keyRing: KeyRing) {
        store.useKeys(keyRing)
    }

    func session(id: SessionID) async throws -> Session? {
        try await measured("get") { try await store.session(id: id) }
    }

    func put(_ session: Session, ttl: TimeInterval) async throws {
        try await measured("put") { try await store.put(session, ttl: ttl) }
    }

    func touch(_ session: Session, ttl: TimeInterval) async throws {
        try await measured("touch") { try await store.touch(session, ttl: ttl) }
    }

    func replace(_ session: Session, ttl: TimeInterval) async throws -> Bool {
        try await measured("replace") { try await store.replace(session, ttl: ttl) }
    }

    func delete(id: SessionID) async throws {
        try await measured("delete") { try await store.delete(id: id) }
    }

    func deleteAll(username: String) async throws -> Int {
        try await measured("delete_user") { try await store.deleteAll(username: username) }
    }

    func deleteAll(providerSessionID: String) async throws -> Int {
        try await measured("delete_provider_session") { try await store.deleteAll(providerSessionID: providerSessionID) }
    }

    func count() async throws -> Int {
        try await measured("count") { try await store.count() }
    }

    private func measured<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            let value = try await body()
            metrics.storeCall(operation, seconds: (ContinuousClock.now - started).inSeconds, failed: false)
            return value
        } catch {
            metrics.storeCall(operation, seconds: (ContinuousClock.now - started).inSeconds, failed: true)
            throw error
        }
    }
}
