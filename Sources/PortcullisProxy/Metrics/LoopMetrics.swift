/// One event loop's data-plane counters: requests by route and status class, and the
/// upstream's time to a response head. Touched only on their loop, so recording a request is
/// plain additions (no lock, no atomic, no allocation once a route has been seen); a scrape
/// reads every loop's copy on that loop and adds them up (``GatewayMetrics``).
final class LoopMetrics {
    /// Upper bounds (seconds) of the upstream latency histogram's buckets.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    struct RouteCounts {
        /// Requests by status class: index 0 for 1xx … 4 for 5xx (5: anything else).
        var byClass = [UInt64](repeating: 0, count: 6)
        /// Upstream latency: a count per bucket (not cumulative; one more for +Inf), and the sum.
        var latency = [UInt64](repeating: 0, count: LoopMetrics.latencyBuckets.count + 1)
        var latencySum: Double = 0
        var upstreamFailures: UInt64 = 0
    }

    /// By route name (`-` for answers no route gave, such as 404s and the gateway's own pages).
    private(set) var routes: [String: RouteCounts] = [:]

    func record(route: String, status: UInt, upstreamSeconds: Double?) {
        let statusClass = (100...599).contains(status) ? Int(status / 100) - 1 : 5
        routes[route, default: RouteCounts()].byClass[statusClass] &+= 1
        if let upstreamSeconds {
            let bucket = Self.latencyBuckets.firstIndex { upstreamSeconds <= $0 } ?? Self.latencyBuckets.count
            routes[route, default: RouteCounts()].latency[bucket] &+= 1
            routes[route, default: RouteCounts()].latencySum += upstreamSeconds
        }
        if status == 502 || status == 504 { routes[route, default: RouteCounts()].upstreamFailures &+= 1 }
    }
}
