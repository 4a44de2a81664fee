/// One event loop's data-plane counters: requests by route and status class, and the
/// upstream's time to a response head. Touched only on their loop, so recording a request is
/// one dictionary probe and plain additions (no lock, no atomic, no allocation once a route
/// has been seen); a scrape reads every loop's copy on that loop and adds them up by route
/// name (``GatewayLoops/snapshot()``).
final class LoopMetrics {
    /// Upper bounds (seconds) of the upstream latency histogram's buckets.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    struct RouteCounts: Sendable {
        /// Requests by status class: index 0 for 1xx … 4 for 5xx (5: anything else).
        var byClass = [UInt64](repeating: 0, count: 6)
        /// Upstream latency: a count per bucket (not cumulative; one more for +Inf), and the sum.
        var latency = [UInt64](repeating: 0, count: LoopMetrics.latencyBuckets.count + 1)
        var latencySum: Double = 0
        var upstreamFailures: UInt64 = 0

        mutating func add(status: UInt, upstreamSeconds: Double?) {
            byClass[(100...599).contains(status) ? Int(status / 100) - 1 : 5] &+= 1
            if let upstreamSeconds {
                latency[LoopMetrics.latencyBuckets.firstIndex { upstreamSeconds <= $0 } ?? LoopMetrics.latencyBuckets.count] &+= 1
                latencySum += upstreamSeconds
            }
            if status == 502 || status == 504 { upstreamFailures &+= 1 }
        }
    }

    /// Proxied requests, by route object (hashing an identity is cheaper than a name); the
    /// object is kept for its name.
    private var proxied: [ObjectIdentifier: (route: RouteTarget, counts: RouteCounts)] = [:]
    /// Answers the gateway gave itself, by route name (`-` for none: 404s, its own pages).
    private var local: [String: RouteCounts] = [:]
    /// Session cookies looked up in the cache for requests to protected routes.
    var sessionLookups = SessionLookups()

    struct SessionLookups: Sendable {
        /// Found in the cache: the request cost no store read.
        var hits: UInt64 = 0
        /// A valid cookie whose session the cache did not hold (read from the shared store,
        /// or, with the memory store, a session that no longer exists).
        var misses: UInt64 = 0

        mutating func merge(_ other: Self) {
            hits &+= other.hits
            misses &+= other.misses
        }
    }

    /// What a scrape reads from one loop.
    struct Snapshot: Sendable {
        var routes: [String: RouteCounts] = [:]
        var sessionLookups = SessionLookups()

        mutating func merge(_ other: Self) {
            for (route, counts) in other.routes { routes[route, default: RouteCounts()].merge(counts) }
            sessionLookups.merge(other.sessionLookups)
        }
    }

    var snapshot: Snapshot { Snapshot(routes: byName, sessionLookups: sessionLookups) }

    func record(_ route: RouteTarget, status: UInt, upstreamSeconds: Double?) {
        proxied[ObjectIdentifier(route), default: (route, RouteCounts())].counts.add(status: status, upstreamSeconds: upstreamSeconds)
    }

    func recordLocal(route: String?, status: UInt) {
        local[route ?? "-", default: RouteCounts()].add(status: status, upstreamSeconds: nil)
    }

    /// The counts by route name (routes of several configs with one name are added up).
    var byName: [String: RouteCounts] {
        var result = local
        for (route, counts) in proxied.values { result[route.config.name, default: RouteCounts()].merge(counts) }
        return result
    }
}

extension LoopMetrics.RouteCounts {
    mutating func merge(_ other: Self) {
        for index in byClass.indices { byClass[index] &+= other.byClass[index] }
        for index in latency.indices { latency[index] &+= other.latency[index] }
        latencySum += other.latencySum
        upstreamFailures &+= other.upstreamFailures
    }
}
