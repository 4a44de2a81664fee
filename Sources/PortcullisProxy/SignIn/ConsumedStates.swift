import Foundation
import Synchronization

/// OAuth `state` values already used at the callback. The pending-login cookie is deleted
/// after use, but a replayed callback request can carry a copy of it; remembering the
/// state until the pending login would have expired anyway makes every callback single-use.
final class ConsumedStates: Sendable {
    private let state = Mutex<[String: Date]>([:])
    private let lifetime: TimeInterval
    private let capacity = 200_000

    init(lifetime: TimeInterval) {
        self.lifetime = lifetime
    }

    /// True the first time a state is presented; false on any replay.
    func consume(_ value: String, now: Date = Date()) -> Bool {
        state.withLock { seen in
            if seen.count >= capacity / 2 { seen = seen.filter { now.timeIntervalSince($0.value) < lifetime } }
            // Fail closed: when full of live entries, refuse rather than forget a state.
            if seen.count >= capacity { return false }
            if seen[value] != nil { return false }
            seen[value] = now
            return true
        }
    }
}
