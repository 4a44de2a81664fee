import Foundation

/// Failed-password bookkeeping for local sign-in: exponential backoff after each failure
/// and a lockout after `maxFailures` within `window`, counted per key.
///
/// A value type with the time passed in, so every rule is tested with a fixed clock and the
/// owner decides where it lives (behind a lock, per process). Keys are opaque: the sign-in
/// endpoint passes one per account (`"user:" + AccountName.canonical(name)`), which stops
/// guessing one password from many addresses, and one per client address
/// (`"addr:" + address`), which stops one address trying many accounts.
///
/// Memory is bounded by `capacity` keys, since an attacker chooses the names and can
/// choose many addresses: when full, entries that no longer affect any decision go first,
/// then the oldest unlocked ones, and locked ones last, so a flood of fresh keys cannot
/// flush a lockout cheaply.
public struct LoginThrottle: Sendable {
    public let config: LockoutConfig
    public let capacity: Int
    private var entries: [String: Entry] = [:]

    private struct Entry: Sendable {
        /// The first failure of the current window.
        var windowStart: Date
        var failures: Int
        var lastFailure: Date
        var lockedUntil: Date?
    }

    public init(config: LockoutConfig, capacity: Int = 100_000) {
        precondition(capacity > 0, "a throttle needs room for at least one key")
        self.config = config
        self.capacity = capacity
    }

    /// How many keys are remembered.
    public var trackedKeys: Int { entries.count }

    /// The strictest decision over `keys`: locked beats waiting beats allowed, and of two
    /// of a kind the later end wins.
    public func check(keys: [String], now: Date) -> ThrottleDecision {
        var lockedUntil: Date?
        var waitUntil: Date?
        for key in keys {
            guard let entry = entries[key] else { continue }
            switch decision(for: entry, now: now) {
            case .locked(let until): lockedUntil = max(lockedUntil ?? until, until)
            case .wait(let until): waitUntil = max(waitUntil ?? until, until)
            case .allowed: break
            }
        }
        if let lockedUntil { return .locked(until: lockedUntil) }
        if let waitUntil { return .wait(until: waitUntil) }
        return .allowed
    }

    /// Counts a failed attempt against each key and returns the keys it locked, for the
    /// audit log. A key already locked is left as it is: attempts during a lockout do not
    /// prolong it (they are refused before the password is checked, and a lockout that
    /// anyone could extend forever would make every account trivially unusable).
    public mutating func recordFailure(keys: [String], now: Date) -> [String] {
        var locked: [String] = []
        var seen: Set<String> = []
        for key in keys where seen.insert(key).inserted {
            var entry: Entry
            if let existing = entries[key], !isSpent(existing, now: now) {
                if let until = existing.lockedUntil, now < until { continue }
                entry = existing
                if now >= entry.windowStart + config.window {
                    entry.windowStart = now
                    entry.failures = 0
                }
            } else {
                if entries[key] == nil { makeRoom(now: now) }
                entry = Entry(windowStart: now, failures: 0, lastFailure: now, lockedUntil: nil)
            }
            entry.failures += 1
            entry.lastFailure = now
            if entry.failures >= config.maxFailures {
                entry.lockedUntil = now + config.duration
                locked.append(key)
            }
            entries[key] = entry
        }
        return locked
    }

    /// Forgets `keys`: after a successful sign-in, its account starts afresh. (Whether to
    /// pass the address key too is the caller's choice: clearing it lets someone with one
    /// working account reset their address's count between guesses at others.)
    public mutating func recordSuccess(keys: [String]) {
        for key in keys { entries[key] = nil }
    }

    // MARK: Rules

    private func decision(for entry: Entry, now: Date) -> ThrottleDecision {
        if let until = entry.lockedUntil {
            return now < until ? .locked(until: until) : .allowed
        }
        let until = entry.lastFailure + backoff(afterFailures: entry.failures)
        return now < until ? .wait(until: until) : .allowed
    }

    /// `backoffBase` × 2^(failures − 1), at most `backoffMax`.
    func backoff(afterFailures failures: Int) -> TimeInterval {
        guard failures > 0, config.backoffBase > 0 else { return 0 }
        return min(config.backoffBase * Double(1 << min(failures - 1, 40)), config.backoffMax)
    }

    /// Whether an entry no longer affects anything: its lockout is over, or its window has
    /// passed and its backoff run out. A further failure then starts afresh.
    private func isSpent(_ entry: Entry, now: Date) -> Bool {
        if let until = entry.lockedUntil { return now >= until }
        return now >= entry.windowStart + config.window && now >= entry.lastFailure + backoff(afterFailures: entry.failures)
    }

    /// Frees room for one more key when full: spent entries first; if that is not enough,
    /// an eighth of the capacity, unlocked before locked, oldest failure first (a batch, so
    /// the sort is paid once per many insertions).
    private mutating func makeRoom(now: Date) {
        guard entries.count >= capacity else { return }
        entries = entries.filter { !isSpent($0.value, now: now) }
        guard entries.count >= capacity else { return }
        let excess = entries.count - capacity + max(1, capacity / 8)
        let victims = entries.sorted { a, b in
            let aLocked = a.value.lockedUntil != nil, bLocked = b.value.lockedUntil != nil
            if aLocked != bLocked { return !aLocked }
            return a.value.lastFailure < b.value.lastFailure
        }.prefix(excess)
        for victim in victims { entries[victim.key] = nil }
    }
}
