import PostgresNIO
import Synchronization

/// The connection pool, replaceable while the store runs.
///
/// postgres-nio's pool retries a dead server with a backoff that grows to a minute (and
/// after a minute of failures fails every request at once), so after a long outage the
/// gateway would keep answering 503 for up to a minute after the database is back. When
/// the listener finds the database back but the pool still failing, the store swaps in a
/// fresh pool with ``renew()``.
final class RenewableClient: Sendable {
    private struct State {
        var client: PostgresClient
        /// A pool runs once; a second ``run()`` needs a new one.
        var used = false
        var renewals: AsyncStream<Void>.Continuation?
    }

    private let make: @Sendable () -> PostgresClient
    private let state: Mutex<State>

    init(make: @escaping @Sendable () -> PostgresClient) {
        self.make = make
        state = Mutex(State(client: make()))
    }

    /// The pool to use now. Queries on a pool replaced meanwhile fail, which callers report
    /// as unavailable like any other failure.
    var client: PostgresClient { state.withLock { $0.client } }

    func renew() { _ = state.withLock { $0.renewals }?.yield() }

    /// Runs the current pool, and each replacement, until cancelled. One run at a time.
    func run() async {
        let (renewals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let first = state.withLock { state in
            if state.used { state.client = make() }
            state.used = true
            state.renewals = continuation
            return state.client
        }
        var runner = Task { await first.run() }
        // Ends when this task is cancelled.
        for await _ in renewals {
            let fresh = make()
            state.withLock { $0.client = fresh }
            // Shutting the old pool down closes its connections and fails its waiters; it
            // needs nothing from the server, so it is not awaited here.
            runner.cancel()
            runner = Task { await fresh.run() }
        }
        state.withLock { $0.renewals = nil }
        runner.cancel()
        await runner.value
    }
}
