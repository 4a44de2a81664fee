import Logging
import NIOCore
import NIOHTTP1

/// One line per request the gateway answered or proxied: what was asked (method, path
/// without the query string, which may carry codes or tokens), which route took it, the
/// outcome, timings and sizes.
struct AccessLog: Sendable {
    let logger: Logger

    struct Entry {
        var method: HTTPMethod
        var path: Substring
        var route: String?
        var status: UInt
        var peer: String
        var started: NIODeadline
        var upstreamMillis: Double?
        var bytesIn: Int
        var bytesOut: Int
        var outcome: String
    }

    func record(_ entry: Entry) {
        let total = Double((NIODeadline.now() - entry.started).nanoseconds) / 1_000_000
        var metadata: Logger.Metadata = [
            "method": .string(entry.method.rawValue),
            "path": .string(String(entry.path)),
            "status": .string(String(entry.status)),
            "client": .string(entry.peer),
            "ms": .string(Self.millis(total)),
            "bytesIn": .string(String(entry.bytesIn)),
            "bytesOut": .string(String(entry.bytesOut)),
            "outcome": .string(entry.outcome),
        ]
        if let route = entry.route { metadata["route"] = .string(route) }
        if let upstream = entry.upstreamMillis { metadata["upstreamMs"] = .string(Self.millis(upstream)) }
        logger.info("access", metadata: metadata)
    }

    static func millis(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(scaled % 10)"
    }
}
