import Foundation

/// When to fetch the provider's signing keys again. Entra rolls keys without notice, so
/// keys are refreshed hourly in the background, and a token signed with an unknown `kid`
/// triggers an immediate fetch — at most once per ``forcedInterval``, or a stream of junk
/// tokens with random `kid`s would turn the gateway into a load generator against Entra.
public struct KeyRefreshSchedule: Sendable, Equatable {
    public var refreshInterval: TimeInterval
    public var forcedInterval: TimeInterval
    public private(set) var lastFetch: Date?
    public private(set) var lastForcedFetch: Date?

    public init(refreshInterval: TimeInterval = 3600, forcedInterval: TimeInterval = 300) {
        self.refreshInterval = refreshInterval
        self.forcedInterval = forcedInterval
    }

    /// Whether the keys are old enough for a background refresh.
    public func isStale(now: Date) -> Bool {
        guard let lastFetch else { return true }
        return now.timeIntervalSince(lastFetch) >= refreshInterval
    }

    /// Whether an unknown `kid` may trigger a fetch now; records it when it may.
    public mutating func allowForcedFetch(now: Date) -> Bool {
        if let lastForcedFetch, now.timeIntervalSince(lastForcedFetch) < forcedInterval { return false }
        lastForcedFetch = now
        return true
    }

    public mutating func fetched(at now: Date) {
        lastFetch = now
    }
}
