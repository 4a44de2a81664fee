import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// Runs bcrypt checks where they cannot slow proxied traffic: on one thread of its own, at
/// the lowest scheduling priority, with a bounded queue. bcrypt is slow by design (about
/// 250 ms at cost 12); on the event loops, or on as many threads as there are cores, a flood
/// of sign-in attempts would take the CPU the data plane needs. At the lowest priority it
/// gets only what the event loops leave; when the queue is full an attempt is refused at once
/// (the caller answers with the same generic error as a wrong password).
final class PasswordChecker: Sendable {
    private let pool: NIOThreadPool
    private let queued = Atomic<Int>(0)
    let maximumQueued: Int

    init(maximumQueued: Int = 64) {
        self.maximumQueued = maximumQueued
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        // The pool's one thread lowers its own priority: on Linux the nice value of
        // `setpriority(PRIO_PROCESS, 0, …)` is the calling thread's alone.
        pool.submit { _ in _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) }
    }

    /// Whether `password` matches `hash`; nil when the queue is full (too many attempts).
    func verify(_ password: String, hash: String) async -> Bool? {
        guard queued.wrappingAdd(1, ordering: .relaxed).newValue <= maximumQueued else {
            queued.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        defer { queued.wrappingSubtract(1, ordering: .relaxed) }
        return (try? await pool.runIfActive { Bcrypt.verify(password, hash: hash) }) ?? false
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
