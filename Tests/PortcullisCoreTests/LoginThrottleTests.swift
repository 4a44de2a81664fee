import Foundation
import Testing

@testable import PortcullisCore

/// The throttle with a fixed clock: every date below is `t0` plus seconds.
@Suite("Login throttle")
struct LoginThrottleTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static func at(_ seconds: Double) -> Date { t0 + seconds }

    static let config = LockoutConfig(maxFailures: 3, window: 60, duration: 300, backoffBase: 1, backoffMax: 4)

    @Test("nothing recorded: allowed")
    func fresh() {
        let throttle = LoginThrottle(config: Self.config)
        #expect(throttle.check(keys: ["user:a", "addr:192.0.2.1"], now: Self.t0) == .allowed)
        #expect(throttle.check(keys: [], now: Self.t0) == .allowed)
    }

    @Test("backoff doubles after each failure and stops at backoffMax")
    func backoff() {
        var throttle = LoginThrottle(config: LockoutConfig(maxFailures: 10, window: 600, duration: 60, backoffBase: 1, backoffMax: 4))
        var now = Self.t0
        for expected in [1.0, 2, 4, 4, 4] {
            #expect(throttle.recordFailure(keys: ["user:a"], now: now).isEmpty)
            #expect(throttle.check(keys: ["user:a"], now: now) == .wait(until: now + expected))
            #expect(throttle.check(keys: ["user:a"], now: now + expected - 0.001) == .wait(until: now + expected))
            #expect(throttle.check(keys: ["user:a"], now: now + expected) == .allowed)
            now = now + expected
        }
    }

    @Test("a zero backoffBase means no waiting, only the lockout")
    func noBackoff() {
        var throttle = LoginThrottle(config: LockoutConfig(maxFailures: 2, window: 60, duration: 60, backoffBase: 0, backoffMax: 0))
        _ = throttle.recordFailure(keys: ["k"], now: Self.t0)
        #expect(throttle.check(keys: ["k"], now: Self.t0) == .allowed)
        #expect(throttle.recordFailure(keys: ["k"], now: Self.t0) == ["k"])
        #expect(throttle.check(keys: ["k"], now: Self.t0) == .locked(until: Self.at(60)))
    }

    @Test("maxFailures within the window lock the key for duration; attempts meanwhile do not prolong it")
    func lockout() {
        var throttle = LoginThrottle(config: Self.config)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(0)).isEmpty)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(5)).isEmpty)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(10)) == ["user:a"])
        #expect(throttle.check(keys: ["user:a"], now: Self.at(10)) == .locked(until: Self.at(310)))
        #expect(throttle.check(keys: ["user:a"], now: Self.at(309)) == .locked(until: Self.at(310)))
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(100)).isEmpty, "already locked: not reported again")
        #expect(throttle.check(keys: ["user:a"], now: Self.at(100)) == .locked(until: Self.at(310)))
        // The lockout ends; the next failure starts a new count.
        #expect(throttle.check(keys: ["user:a"], now: Self.at(310)) == .allowed)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(311)).isEmpty)
        #expect(throttle.check(keys: ["user:a"], now: Self.at(311)) == .wait(until: Self.at(312)))
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(312)).isEmpty)
    }

    @Test("failures older than the window no longer count")
    func windowExpiry() {
        var throttle = LoginThrottle(config: Self.config)
        _ = throttle.recordFailure(keys: ["user:a"], now: Self.at(0))
        _ = throttle.recordFailure(keys: ["user:a"], now: Self.at(30))
        // The window began at 0; at 60 it is over, so this is the first failure of a new one.
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(60)).isEmpty)
        #expect(throttle.check(keys: ["user:a"], now: Self.at(60)) == .wait(until: Self.at(61)), "backoff restarts at the base")
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(61)).isEmpty)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(63)) == ["user:a"])
    }

    @Test("a success clears the key's count")
    func successClears() {
        var throttle = LoginThrottle(config: Self.config)
        _ = throttle.recordFailure(keys: ["user:a"], now: Self.at(0))
        _ = throttle.recordFailure(keys: ["user:a"], now: Self.at(2))
        throttle.recordSuccess(keys: ["user:a"])
        #expect(throttle.check(keys: ["user:a"], now: Self.at(2)) == .allowed)
        #expect(throttle.trackedKeys == 0)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(3)).isEmpty)
        #expect(throttle.recordFailure(keys: ["user:a"], now: Self.at(5)).isEmpty, "two failures since the success, not four")
    }

    @Test("username and address keys count separately; the strictest decision wins")
    func accountAndAddressKeys() {
        var throttle = LoginThrottle(config: Self.config)
        // One address trying three accounts locks the address, not the accounts.
        for (index, name) in ["a", "b", "c"].enumerated() {
            let locked = throttle.recordFailure(keys: ["user:\(name)", "addr:192.0.2.1"], now: Self.at(Double(index) * 10))
            #expect(locked == (index == 2 ? ["addr:192.0.2.1"] : []))
        }
        #expect(throttle.check(keys: ["user:d", "addr:192.0.2.1"], now: Self.at(30)) == .locked(until: Self.at(320)))
        #expect(throttle.check(keys: ["user:a", "addr:198.51.100.9"], now: Self.at(30)) == .allowed)
        // Many addresses trying one account lock the account.
        for (index, address) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"].enumerated() {
            _ = throttle.recordFailure(keys: ["user:z", "addr:\(address)"], now: Self.at(100 + Double(index) * 10))
        }
        #expect(throttle.check(keys: ["user:z", "addr:203.0.113.5"], now: Self.at(130)) == .locked(until: Self.at(420)))
        // Locked beats waiting.
        #expect(throttle.check(keys: ["addr:198.51.100.3", "user:z"], now: Self.at(120)) == .locked(until: Self.at(420)))
        #expect(throttle.check(keys: ["addr:198.51.100.3"], now: Self.at(120)) == .wait(until: Self.at(121)))
    }

    @Test("a key given twice in one call counts once")
    func duplicateKeys() {
        var throttle = LoginThrottle(config: Self.config)
        #expect(throttle.recordFailure(keys: ["k", "k", "k"], now: Self.t0).isEmpty)
        #expect(throttle.check(keys: ["k"], now: Self.t0) == .wait(until: Self.at(1)))
    }

    @Test("at capacity the oldest key goes, and spent ones before it")
    func capacity() {
        var throttle = LoginThrottle(config: Self.config, capacity: 4)
        for index in 0..<4 { _ = throttle.recordFailure(keys: ["k\(index)"], now: Self.at(Double(index))) }
        #expect(throttle.trackedKeys == 4)
        _ = throttle.recordFailure(keys: ["k4"], now: Self.at(4))
        #expect(throttle.trackedKeys == 4)
        #expect(throttle.check(keys: ["k4"], now: Self.at(4)) == .wait(until: Self.at(5)))
        #expect(throttle.check(keys: ["k3"], now: Self.at(3.5)) == .wait(until: Self.at(4)), "newer keys stay")
        #expect(throttle.check(keys: ["k0"], now: Self.at(0.5)) == .allowed, "k0 was the oldest and was dropped")
        _ = throttle.recordFailure(keys: ["k1"], now: Self.at(4))
        #expect(throttle.check(keys: ["k1"], now: Self.at(4)) == .wait(until: Self.at(6)), "k1 kept its earlier failure")

        // Long after, every entry is spent: all are dropped before anything live.
        _ = throttle.recordFailure(keys: ["late"], now: Self.at(10_000))
        #expect(throttle.trackedKeys == 1)
    }

    @Test("a flood of fresh keys evicts unlocked keys before a locked one")
    func lockedKeysSurviveFloods() {
        var throttle = LoginThrottle(config: Self.config, capacity: 4)
        for second in 0..<3 { _ = throttle.recordFailure(keys: ["user:admin"], now: Self.at(Double(second))) }
        #expect(throttle.check(keys: ["user:admin"], now: Self.at(3)) == .locked(until: Self.at(302)))
        for index in 0..<50 { _ = throttle.recordFailure(keys: ["addr:10.0.0.\(index)"], now: Self.at(3 + Double(index) / 100)) }
        #expect(throttle.trackedKeys <= 4)
        #expect(throttle.check(keys: ["user:admin"], now: Self.at(4)) == .locked(until: Self.at(302)))
    }
}
